"""The facts at the head of a report: what ran, on what and how (the method, the load, the
network, the host's noise and who made it), from the stored results alone."""

from __future__ import annotations

from runner.report import parity, stats

MIX_LATENCY_NOTE = (
    "Latency per request kind is not shown: wrk keeps one latency histogram for all requests, and its Lua "
    "response() hook gets the status, headers and body but neither the request it answers nor its latency, "
    "so a kind cannot be timed separately in one closed-loop run. Each kind's own scenario (by-id, "
    "by-username, page, edit) gives its latency."
)


def scenario_lines(document: dict) -> list[str]:
    """What the scenario asks for, and for one that writes, the restore of the seeded rows."""
    run = document["metadata"]["run"]
    lines = [f"{run['scenario']}: {run.get('scenario_description', '')}."]
    if run.get("weights"):
        lines.append("Declared mix (scenarios/" + run["scenario"] + ".toml): " + ", ".join(
            f"{kind} {share}%" for kind, share in run["weights"].items()) + ".")
    if run.get("writes"):
        restored = run.get("restored") or []
        rows = sum(entry.get("rows") or 0 for entry in restored)
        failed = [entry for entry in restored if entry.get("error")]
        lines.append(
            f"It writes: the seeded users were put back after every group ({rows:,} rows re-seeded in all); "
            + (f"**{len(failed)} restore(s) failed**: {failed[0]['error']}." if failed else
               "the table's checksum was the seed's again each time.")
        )
    return lines


def stop_detail(run: dict, worst: float | None) -> str:
    parts = [f"worst ratio interval ±{worst:.1%}" if worst is not None else "no ratio interval yet"]
    if run.get("precision_target"):
        parts.append(f"target ±{run['precision_target']:.0%}")
    if run.get("budget_s") and not run.get("rounds_fixed"):
        parts.append(f"budget {run['budget_s']:.0f} s")
    return ", ".join(parts)


def title_of(document: dict) -> str:
    run = document["metadata"]["run"]
    load = "constant rate, up to " if run.get("open_loop") else ""
    return (f"dbbench: {run['scenario']}, {load}{run['connections']} connections, slices of {run['slice_s']} s, "
            f"{run['server_cpus']} server CPU(s)")


def facts(document: dict) -> list[tuple[str, str]]:
    """The run's metadata in short labelled lines: what ran, on what, with which versions."""
    meta = document["metadata"]
    run, dataset, machine, project = meta["run"], meta["dataset"], meta["machine"], meta["project"]
    pg = meta["postgres"]
    state = "complete" if document["complete"] else "**incomplete** (still running, or interrupted)"
    found = [
        ("Run", f"{state}, from {run['started_at']} to {run.get('finished_at') or '—'}"),
        ("Scenario", " ".join(scenario_lines(document))),
        ("Code", f"commit {(project.get('git_commit') or '?')[:12]}{' (dirty)' if project.get('git_dirty') else ''}"),
        ("Data", f"{dataset.get('users') or 0:,} users (checksum {dataset.get('checksum')})"),
        ("PostgreSQL", f"{pg['settings'].get('server_version', '?')} {postgres_place(meta)}"),
        *([("Hosts", hosts_text(meta["hosts"]))] if meta.get("hosts") else []),
        ("Network", network_text(run)),
        *[("Fault", fault_text(entry)) for entry in run.get("faults") or []],
        ("Load", load_text(document)),
        ("App host" if meta.get("hosts") else "Machine",
         f"{machine['cpu_count']} × {machine['cpu_model']}, kernel {machine['kernel']}"),
        ("CPU placement", run["pinning"]),
    ]
    return found + method_facts(document)


def postgres_place(meta: dict) -> str:
    if meta.get("hosts"):
        db = next(host for host in meta["hosts"] if "db" in host["roles"])
        return f"(on the db host {db['name']}: its CPU from that host's own sampler)"
    return "(embedded)" if meta["postgres"].get("embedded") else "(external: its CPU is not measured)"


def hosts_text(hosts: list[dict]) -> str:
    """A cluster run's layout: what ran where, on what, and each host's clock against the controller's."""
    return "; ".join(
        f"{host['name']} ({host['address']}) ran {' and '.join(host['runs'])}: {host['cores']} × {host['cpu_model']}, "
        f"kernel {host['kernel']}, clock {host['clock_offset_ms']:+.1f} ms (±{host['clock_uncertainty_ms']:.1f})"
        for host in hosts)


def load_text(document: dict) -> str:
    run, tools = document["metadata"]["run"], document["metadata"]["tools"]
    found = run.get("open_loop")
    if not found:
        return (f"{tools.get('wrk')}, {run['connections']} connections, {run.get('wrk_threads', 1)} thread(s), "
                "closed loop")
    rate = f"{found['rate']:,g} requests/s" if found.get("rate") is not None else "a rate per cell (see the table)"
    return (f"{found['generator']} at a constant rate, {rate}, up to {run['connections']} connections, "
            f"{run.get('wrk_threads', 1)} thread(s): open loop, {found['correction']}; a rate is held when at least "
            f"{found['held_fraction']:.0%} of it was achieved. Warm-up: {found['warm_up']}")


def network_text(run: dict) -> str:
    if run.get("cluster"):
        return (f"three hosts ({run['cluster']['layout']}): the cells reach PostgreSQL, and wrk the cells, over the "
                "network")
    if run.get("target"):
        return (f"the cell serves on another host ({run['target']}): measured and verified from here; its CPU "
                "time and its way to PostgreSQL are on its own host, unknown here")
    if run.get("pooler") and not run.get("proxy"):
        return "loopback, through " + pooler_text(run["pooler"])
    return proxy_text(run.get("proxy")) + ("; then " + pooler_text(run["pooler"]) if run.get("pooler") else "")


def proxy_text(found: dict | None) -> str:
    if found and not found["latency_ms"]:
        return f"{found['tool']} {found['version']} between the cells and PostgreSQL, no latency added"
    if not found:
        return "loopback: the cells talk to PostgreSQL directly"
    ways = found["per_direction_ms"]
    return (f"{found['tool']} {found['version']} between the cells and PostgreSQL, +{found['latency_ms']} ms per "
            f"round trip ({ways['upstream']} ms on the way there, {ways['downstream']} ms back)")


def pooler_text(found: dict) -> str:
    """PgBouncer where the run put it before PostgreSQL (after toxiproxy, where both ran)."""
    return (f"PgBouncer {found['version']} in {found['pool_mode']} mode before PostgreSQL, up to "
            f"{found['server_pool_per_role']} server connections per cell, each cell with its driver's settings "
            "for a transaction pooler (listed under the cells)")


def fault_text(entry: dict) -> str:
    """One fault injected between rounds, and how long each cell took to serve again."""
    what = "every database connection dropped" if entry["fault"] == "reset" else \
        f"PostgreSQL unreachable for {entry['seconds']:.1f} s"
    recovered = "; ".join(f"{name} {'did not recover' if took is None else f'{took:.2f} s'}"
                          for name, took in entry["recovery_s"].items())
    return (f"{what} after round {entry['after_round']} of group {entry['group']}; time to serve steadily again "
            f"once the database was back: {recovered}. No slice was measured during the fault.")


def method_facts(document: dict) -> list[tuple[str, str]]:
    """How the figures were made, how the run stopped, and how noisy the host was."""
    run, summary = document["metadata"]["run"], document.get("summary", {})
    groups = run.get("groups") or []
    rounds = ", ".join(str(g["rounds"]) for g in groups) or "0"
    found = [
        ("Method", f"warm cells measured in slices of {run.get('slice_s')} s, each round giving every cell one "
                   f"slice in a shuffled order; {len(groups)} group(s) of up to {run.get('max_cells_up', '?')} "
                   f"cells up at once (rounds per group: {rounds})"
                   + (f", anchor {run['anchor']}" if len(groups) > 1 and run.get('anchor') else "")),
        ("Stopped", f"{run.get('stop_reason') or '—'} ({stop_detail(run, summary.get('worst_half_width'))})"),
    ]
    measured = parity.method_text(run.get("parity_published"),
                                  [cell["name"] for cell in document["cells"] if cell["status"] == "ok"])
    if measured:
        found.append(("Parity", measured))
    noise = summary.get("noise") or {}
    if noise.get("slices"):
        detectable = summary.get("smallest_detectable")
        found.append(("Host noise", (
            f"steal median {noise['steal_median']:.1%}, worst {noise['steal_worst']:.1%}; CPU used outside the "
            f"measurement, median {noise['outside_cores_median']:.2f} cores{outside_sources_text(noise)}; "
            f"{noise['disturbed']} of "
            f"{noise['slices']} slices disturbed ({noise['repeated']} measured again); smallest detectable "
            "difference " + (f"about ±{detectable:.1%}" if detectable is not None else "—")
            + backlog_text(noise) + other_hosts_noise(document))))
    return found


def outside_sources_text(noise: dict) -> str:
    """The host-noise line's clause naming who used the CPU outside the measurement."""
    sources = [found for found in noise.get("outside_sources") or [] if found["cores_mean"] >= 0.005]
    if not sources:
        return ""
    named = ", ".join(f"{'this dbbench command' if found['source'] == 'runner' else found['source']} "
                      f"{found['cores_mean']:.2f}" for found in sources)
    return f" (mainly, as cores on average over slices: {named})"


def backlog_text(noise: dict) -> str:
    """The host-noise line's clause on the slices that waited, if any did."""
    return f"; {backlog_waits(noise)}" if noise.get("backlog_waits") else ""


def backlog_waits(noise: dict) -> str:
    """How many slices first waited for the requests the last load abandoned, for how long, and
    how many gave up: one phrase for the report and the lessons."""
    unsettled = noise["backlog_unsettled"]
    return (f"{noise['backlog_waits']} slices first waited {noise['backlog_waited_s']:.1f} s in all for the "
            "requests the last load left in its server" + (f" ({unsettled} gave up waiting)" if unsettled else ""))


def other_hosts_noise(document: dict) -> str:
    """A cluster run's db and load hosts: their steal over the slices, from their own agents."""
    steal: dict[str, list[float]] = {}
    for cell in document["cells"]:
        for piece in cell["slices"]:
            for host, found in (piece.get("hosts") or {}).items():
                steal.setdefault(f"{host} ({found['role']})", []).append(found["steal"])
    return "".join(f"; {host}: steal median {stats.median(values):.1%}, worst {max(values):.1%}"
                   for host, values in sorted(steal.items()))
