"""The coach: form analysis, baseline and drift, the coach policy, the run engine, and the
session, timeline and command line around them."""
