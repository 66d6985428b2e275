"""A text transform for tests/test_cluster.py that kills the process running it, once.

It lives in its own module (not the test file) so Dask workers can import it: the test puts this
folder on the workers' PYTHONPATH. The first call anywhere creates the marker file atomically
(O_EXCL) and exits the process at once, as a worker killed by the OOM killer would; every later call
is the identity, so the expected table is the plain one."""
import os


class KillOnce:
    def __init__(self, marker):
        self.marker = str(marker)

    def apply(self, text):
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return text
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        os._exit(1)

    def to_dict(self):
        return {"type": "kill_once", "marker": self.marker}
