"""bokfor's benchmarks: `python -m bench` runs the suite (bench/suite.py, bench/README.md).
The scripts here also run on their own (`python bench/convert_stripe.py`, …)."""
