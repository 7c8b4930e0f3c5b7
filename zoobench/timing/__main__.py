"""`python -m zoobench.timing`: the isolated measurement worker (see worker.py)."""

from zoobench.timing.worker import main

main()
