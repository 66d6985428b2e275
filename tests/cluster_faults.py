"""A Dask worker plugin for tests/test_cluster.py that kills its worker process once, mid-task.

It lives in its own module (not the test file) so Dask workers can import it: the test puts this
folder on the workers' PYTHONPATH. When a task whose key starts with `prefix` starts executing, the
first worker to get there creates the marker file atomically (O_EXCL), writes its pid and exits at
once (os._exit: no cleanup, as a worker killed by the OOM killer); on every later task, and on the
restarted worker, the marker exists and nothing happens."""
import os

from distributed import WorkerPlugin


class KillOnce(WorkerPlugin):
    name = "newbpe-kill-once"

    def __init__(self, marker, prefix):
        self.marker = str(marker)
        self.prefix = prefix

    def transition(self, key, start, finish, **kwargs):
        if finish != "executing" or not str(key).startswith(self.prefix):
            return
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        os._exit(1)
