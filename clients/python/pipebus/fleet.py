"""Every worker's sidecar under one root, discovered from `<root>/workers/*/instances/*`, one
client (and breaker) each, with calls fanned out over threads."""
import concurrent.futures
import os

from ._channel import valid_name
from .client import Client, default_root


class Fleet:
    def __init__(self, root=None, timeout=5.0, make_client=None):
        self.root = root or default_root()
        self.timeout = timeout
        self._make_client = make_client or (lambda worker, instance: Client(worker=worker, root=self.root,
                                                                           instance=instance, timeout=timeout))
        self._clients = {}

    def workers(self):
        """The workers that have (or had) a sidecar: an instance directory or a heartbeat."""
        directory = os.path.join(self.root, "workers")
        try:
            names = os.listdir(directory)
        except OSError:
            return []
        return sorted(name for name in names if valid_name(name) and (
            self.instances(name) or os.path.exists(os.path.join(directory, name, "heartbeat.json"))))

    def instances(self, worker):
        try:
            return sorted(n for n in os.listdir(os.path.join(self.root, "workers", worker, "instances")) if valid_name(n))
        except OSError:
            return []

    def client(self, worker, instance=None):
        """The client of `worker` (of `instance`, or any), kept so its breaker remembers."""
        key = (worker, instance)
        client = self._clients.get(key)
        if client is None:
            client = self._clients.setdefault(key, self._make_client(worker, instance))
        return client

    def for_each_worker(self, function):
        """`function(client)` for every worker at once: {worker: result or the exception}."""
        return self._fan_out([(w, None) for w in self.workers()], function, key=lambda member: member[0])

    def for_each_instance(self, function):
        """`function(client)` for every instance of every worker: {(worker, instance): ...}."""
        members = [(w, i) for w in self.workers() for i in self.instances(w)]
        return self._fan_out(members, function, key=lambda member: member)

    def health(self):
        """{worker: HealthCheckResponse or the exception}."""
        return self.for_each_worker(lambda client: client.health())

    def _fan_out(self, members, function, key):
        if not members:
            return {}
        results = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(members))) as pool:
            futures = {pool.submit(function, self.client(*member)): member for member in members}
            for future, member in futures.items():
                try:
                    results[key(member)] = future.result()
                except Exception as error:
                    results[key(member)] = error
        return results

    def close(self):
        for client in self._clients.values():
            client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
