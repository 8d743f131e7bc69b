"""Tools for developers and testers, not run by the daemon: the benchmark (`python -m edge bench`), its
peers, the soak with faults, the web load test and the monitor's cost. The device needs none of them."""
