"""Routing simulation: the production routing policy against plain round-robin, no Salesforce.

    .venv/bin/python bench/routing_sim.py                      # table
    .venv/bin/python bench/routing_sim.py --seed 7 --rate 2.2 --json

Discrete-event simulation (heapq), deterministic for a seed. Both policies see the SAME inputs
(arrival times, each chat's work, each operator's Away/Available schedule), drawn once from the
seed; only the operator choice differs. Routing is done by the production
``connector.domain.routing.route`` (``Policy.LEAST_LOAD`` vs ``Policy.ROUND_ROBIN``) and presence
by ``set_presence`` -- nothing is reimplemented here.

Model
-----
* Operators: ``--operators`` N, capacities cycled from ``--capacities`` (10 with 1,2,3 ->
  four of 1, three of 2, three of 3 = 19 slots). All start Available.
* Arrivals: Poisson, ``--rate`` chats per minute, during ``--duration-h`` hours.
* Work: each chat has a base handling time ~ Exponential(mean ``--aht`` s), the time it takes an
  operator doing nothing else.
* Concurrency slowdown: a chat assigned to an operator who then holds k chats (itself included)
  takes ``work * (1 + slowdown * (k - 1))`` (``--slowdown`` 0.3: with 3 chats each is 1.6x slower,
  so a 3-slot operator still finishes ~1.9x the chats of a 1-slot one). The factor is fixed when
  the chat is assigned.
* Presence: each operator alternates Available stints ~ Exp(``--available-mean`` s) with Away
  breaks ~ Exp(``--away-mean`` s). Away keeps its chats and gets no new ones.
* After the last arrival the queue is drained (everyone is eventually served); time-averaged
  metrics cover [0, duration].

Metrics (per policy)
--------------------
* wait: assigned_at - queued_at, mean and p95 (nearest rank), max.
* utilisation: integral of busy chat-slots (sum of loads) / integral of total capacity.
* fairness: time-average of (max - min load) among Available operators, over the time at least two
  are Available; ``spread_share`` is the same on load / capacity.
* max queue length.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass, field

from connector.domain.routing import Policy, Presence, RoutingState, enqueue, release, route, set_presence

POLICIES = (Policy.LEAST_LOAD, Policy.ROUND_ROBIN)


@dataclass(frozen=True)
class SimConfig:
    seed: int = 1
    operators: int = 10
    capacities: tuple[int, ...] = (1, 2, 3)
    rate_per_min: float = 2.2
    duration_h: float = 8.0
    aht_s: float = 300.0
    slowdown: float = 0.3
    available_mean_s: float = 2700.0
    away_mean_s: float = 300.0


@dataclass(frozen=True)
class SimInputs:
    arrivals: tuple[tuple[float, float], ...]  # (time, base work seconds)
    presence: tuple[tuple[float, str, str], ...]  # (time, operator id, status)
    capacities: dict[str, int] = field(default_factory=dict)


def make_inputs(cfg: SimConfig) -> SimInputs:
    rng = random.Random(cfg.seed)
    horizon = cfg.duration_h * 3600.0
    arrivals = []
    t = 0.0
    rate_s = cfg.rate_per_min / 60.0
    while True:
        t += rng.expovariate(rate_s)
        if t > horizon:
            break
        arrivals.append((t, rng.expovariate(1.0 / cfg.aht_s)))
    caps = {f"op{i:02d}": cfg.capacities[i % len(cfg.capacities)] for i in range(cfg.operators)}
    presence = []
    for op_id in caps:
        t = 0.0
        while t < 2 * horizon:  # a schedule beyond the horizon so the drain cannot stall forever
            t += rng.expovariate(1.0 / cfg.available_mean_s)
            presence.append((t, op_id, Presence.AWAY.value))
            t += rng.expovariate(1.0 / cfg.away_mean_s)
            presence.append((t, op_id, Presence.AVAILABLE.value))
    presence.sort()
    return SimInputs(tuple(arrivals), tuple(presence), caps)


def _p(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def simulate(cfg: SimConfig, inputs: SimInputs, policy: Policy) -> dict:
    horizon = cfg.duration_h * 3600.0
    state = RoutingState()
    for op_id, cap in inputs.capacities.items():
        state, _ = set_presence(state, op_id, Presence.AVAILABLE, 0.0, capacity=cap)

    ARRIVE, PRESENCE, FINISH = 0, 1, 2
    heap: list[tuple[float, int, int, object]] = []
    seq = 0
    for i, (t, _) in enumerate(inputs.arrivals):
        heap.append((t, seq, ARRIVE, i))
        seq += 1
    for t, op_id, status in inputs.presence:
        heap.append((t, seq, PRESENCE, (op_id, status)))
        seq += 1
    heapq.heapify(heap)

    total_cap = sum(inputs.capacities.values())
    waits: list[float] = []
    pending_arrivals = len(inputs.arrivals)
    last_t = 0.0
    busy_area = cap_area = spread_area = share_area = spread_time = 0.0
    max_queue = 0
    assigned_per_op = dict.fromkeys(inputs.capacities, 0)

    def account(until: float) -> None:
        nonlocal last_t, busy_area, cap_area, spread_area, share_area, spread_time
        until = min(until, horizon)
        dt = until - last_t
        if dt <= 0:
            return
        ops = state.operators.values()
        busy_area += dt * sum(o.load for o in ops)
        cap_area += dt * total_cap
        avail = [o for o in ops if o.status is Presence.AVAILABLE]
        if len(avail) >= 2:
            loads = [o.load for o in avail]
            shares = [o.load / o.capacity for o in avail if o.capacity]
            spread_area += dt * (max(loads) - min(loads))
            share_area += dt * (max(shares) - min(shares))
            spread_time += dt
        last_t = until

    while heap:
        t, _, kind, data = heapq.heappop(heap)
        if t > horizon and pending_arrivals == 0 and not state.queue:
            break  # drained: every chat was assigned; what is left changes no reported figure
        account(t)
        if kind == ARRIVE:
            pending_arrivals -= 1
            state, _ = enqueue(state, f"s{data}", "sim", t)
        elif kind == FINISH:
            state, _ = release(state, data, t)
        else:
            op_id, status = data
            state, _ = set_presence(state, op_id, status, t)
        state, assignments = route(state, t, policy=policy)
        for a in assignments:
            waits.append(a.wait_s)
            assigned_per_op[a.operator_id] += 1
            work = inputs.arrivals[int(a.session_key[1:])][1]
            handle = work * (1.0 + cfg.slowdown * a.operator_load)  # operator_load = k - 1
            heapq.heappush(heap, (t + handle, seq, FINISH, a.session_key))
            seq += 1
        if t <= horizon:
            max_queue = max(max_queue, len(state.queue))
    account(horizon)

    waits.sort()
    return {
        "policy": policy.value,
        "arrivals": len(inputs.arrivals),
        "served": len(waits),
        "unserved": len(state.queue),
        "mean_wait_s": round(sum(waits) / len(waits), 1) if waits else 0.0,
        "p95_wait_s": round(_p(waits, 0.95), 1),
        "max_wait_s": round(waits[-1], 1) if waits else 0.0,
        "utilisation": round(busy_area / cap_area, 3) if cap_area else 0.0,
        "fairness_spread": round(spread_area / spread_time, 3) if spread_time else 0.0,
        "fairness_spread_share": round(share_area / spread_time, 3) if spread_time else 0.0,
        "max_queue": max_queue,
        "chats_per_capacity": {
            str(c): round(
                sum(n for o, n in assigned_per_op.items() if inputs.capacities[o] == c)
                / sum(1 for o in inputs.capacities if inputs.capacities[o] == c),
                1,
            )
            for c in sorted(set(inputs.capacities.values()))
        },
    }


def run(cfg: SimConfig, policies=POLICIES) -> dict:
    inputs = make_inputs(cfg)
    return {
        "config": {**asdict(cfg), "capacities": list(cfg.capacities)},
        "results": [simulate(cfg, inputs, Policy(p)) for p in policies],
    }


def format_table(report: dict) -> str:
    c = report["config"]
    head = (
        f"seed={c['seed']} operators={c['operators']} capacities={c['capacities']} "
        f"rate={c['rate_per_min']}/min duration={c['duration_h']}h aht={c['aht_s']}s "
        f"slowdown={c['slowdown']}"
    )
    cols = [
        ("policy", "policy", "{}"),
        ("served", "served", "{}"),
        ("mean wait s", "mean_wait_s", "{:.1f}"),
        ("p95 wait s", "p95_wait_s", "{:.1f}"),
        ("max wait s", "max_wait_s", "{:.1f}"),
        ("util", "utilisation", "{:.3f}"),
        ("spread chats", "fairness_spread", "{:.3f}"),
        ("spread share", "fairness_spread_share", "{:.3f}"),
        ("max queue", "max_queue", "{}"),
        ("chats/op by cap", "chats_per_capacity", "{}"),
    ]
    rows = [
        [
            f.format(r[k]) if k != "chats_per_capacity" else " ".join(f"{cap}:{v}" for cap, v in r[k].items())
            for _, k, f in cols
        ]
        for r in report["results"]
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, (h, _, _) in enumerate(cols)]
    line = lambda cells: "| " + " | ".join(s.ljust(w) for s, w in zip(cells, widths)) + " |"
    out = [head, "", line([h for h, _, _ in cols]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    d = SimConfig()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--operators", type=int, default=d.operators)
    ap.add_argument(
        "--capacities",
        default=",".join(map(str, d.capacities)),
        help="comma-separated, cycled over operators (default 1,2,3)",
    )
    ap.add_argument("--rate", type=float, default=d.rate_per_min, help="arrivals per minute")
    ap.add_argument("--duration-h", type=float, default=d.duration_h, help="hours of arrivals")
    ap.add_argument("--aht", type=float, default=d.aht_s, help="mean base handling time, seconds")
    ap.add_argument("--slowdown", type=float, default=d.slowdown, help="per extra concurrent chat")
    ap.add_argument("--available-mean", type=float, default=d.available_mean_s)
    ap.add_argument("--away-mean", type=float, default=d.away_mean_s)
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    a = ap.parse_args(argv)
    cfg = SimConfig(
        seed=a.seed,
        operators=a.operators,
        capacities=tuple(int(x) for x in a.capacities.split(",") if x.strip()),
        rate_per_min=a.rate,
        duration_h=a.duration_h,
        aht_s=a.aht,
        slowdown=a.slowdown,
        available_mean_s=a.available_mean,
        away_mean_s=a.away_mean,
    )
    if cfg.operators < 1 or not cfg.capacities or min(cfg.capacities) < 1 or cfg.rate_per_min <= 0:
        ap.error("need >= 1 operator, capacities >= 1 and a positive rate")
    started = time.perf_counter()
    report = run(cfg)
    if a.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        print(format_table(report))
        print(f"\n({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
