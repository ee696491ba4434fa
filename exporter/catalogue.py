"""`python -m exporter.catalogue`: print the metrics reference (docs/metrics.md), made from the
contract's CATALOGUE so the docs cannot drift from what is exported."""

from exporter.contract import main

if __name__ == "__main__":
    main()
