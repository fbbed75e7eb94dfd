"""Helpers shared by the tests (not tests themselves): run the workflow, make images, drive a browser,
start a SLURM cluster, build the tiny report run. Import as ``support.<module>``: tests/conftest.py
puts tests/ on sys.path."""
