"""What several test modules share, instead of importing from one another: the daemon as a process
(daemon.py), the web app served in-process (served.py), the installer's staging root (firmware.py)."""
