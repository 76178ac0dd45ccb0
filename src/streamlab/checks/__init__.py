"""Checking a lab: Step 6's verification, Spark next to the model, confirmation runs."""
