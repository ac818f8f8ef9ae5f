"""`python -m serve_sweep SECONDS [serve options]`: flowgate_site.serve with another sweep interval.

For the A/B benchmark of the sweep interval alone (bench/ab_server_extensions.sh, which puts bench/
on PYTHONPATH): the reap_at_once extension reaps ended applications at once and sweeps all
connections every flowgate_site.serve.SWEEP_SECONDS; this runs the same server with the sweep every SECONDS instead,
so that a run with 1 (Daphne's interval) shows what the longer interval buys.
"""

import sys

from flowgate_site import serve

if __name__ == "__main__":
    serve.SWEEP_SECONDS = float(sys.argv[1])
    serve.main(sys.argv[2:])
