"""An Ansible stdout callback: every task's result by host, and the play's stats, as one JSON
document at the end. ansible-core ships no JSON callback (it lives in a collection), and
this is all dbbench reads. Results of no_log tasks arrive already censored by Ansible."""

import json

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "dbbench_json"

    def __init__(self):
        super().__init__()
        self.tasks = {}

    def record(self, result, **flags):
        found = dict(result._result)
        found.pop("invocation", None)
        self.tasks.setdefault(result._task.get_name(), {})[result._host.get_name()] = {**found, **flags}

    def v2_runner_on_ok(self, result, **_kwargs):
        self.record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self.record(result, failed=not ignore_errors)

    def v2_runner_on_unreachable(self, result):
        self.record(result, unreachable=True)

    def v2_runner_on_skipped(self, result):
        self.record(result, skipped=True)

    def v2_playbook_on_stats(self, stats):
        summary = {host: stats.summarize(host) for host in sorted(stats.processed)}
        self._display.display(json.dumps({"tasks": self.tasks, "stats": summary}, default=str))
