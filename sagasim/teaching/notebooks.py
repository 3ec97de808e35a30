"""The teaching notebooks, as data, and the script that writes them.

Each notebook is a list of cells: markdown (``md``), code (``code``) and
the papermill parameters cell (``params``, tagged ``"parameters"``), which
states the seed first and the scale knob after it. The notebooks only call
the package (:mod:`sagasim.teaching`, :mod:`sagasim.plots`,
:mod:`sagasim.widgets`); the models live there, not in the cells.

``python -m sagasim.teaching.notebooks [FOLDER]`` writes every notebook to
``FOLDER`` (default ``notebooks/``) with no outputs and fixed cell ids, so
the files are a pure function of this module: a test compares them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

__all__ = ["NOTEBOOKS", "build", "write_all"]

Cell = tuple[str, str]


def _params(seed: int) -> str:
    return (
        "# The seed of every run below; the same seed gives the same numbers.\n"
        f"SEED = {seed}\n"
        '# "small" runs in seconds (CI); "full" runs the sizes the text talks\n'
        '# about (make notebooks runs every notebook with SCALE = "full").\n'
        'SCALE = "small"'
    )


_SETUP = """\
%matplotlib inline
import pandas as pd

from sagasim.teaching.common import at_scale

pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)
pd.set_option("display.max_colwidth", 80)"""


BASICS: list[Cell] = [
    (
        "md",
        """\
# 01 · Saga basics: a bank transfer, and what rolls back and why

A *saga* is a long-running piece of work made of steps, each of which changes
something in the world (takes money, holds stock, sends a mail). There is no
transaction around the whole: when a later step fails for good, the earlier
steps cannot be "aborted", only **compensated**, by running code that undoes
what they did.

Cloudflare Workflows gives each `step.do` an optional `rollback` handler. The
rules this lab re-implements, and this notebook shows:

1. Handlers run only when `run()` **fails terminally** (a caught error starts
   none).
2. Every step that **started** and registered a handler is rolled back, once,
   in reverse order of **start**.
3. The failing step is the newest start in a sequential flow, so it is undone
   **first**, and its handler receives `output` = `UNDEFINED`: it has to decide
   for itself whether there is anything to undo.

**Seed: 7.** Every number below follows from the seed in the next cell.""",
    ),
    ("params", _params(7)),
    (
        "code",
        _SETUP
        + """

import inspect

from sagasim.plots import instance_timeline, instances_chart, load_chart
from sagasim.scenarios.transfer import Transfer
from sagasim.teaching.basics import CASES, books, cases_table, transfer
from sagasim.teaching.common import run_scenario, statuses
from sagasim.widgets import Explorer""",
    ),
    (
        "md",
        """\
## The workflow

`Transfer` debits alice at the `north` bank, then credits bob at `south`. Each
step has a handler: the debit's gives the money back; the credit's takes it
back out, but only if the credit had an output.""",
    ),
    ("code", "print(inspect.getsource(Transfer.run))"),
    (
        "md",
        """\
## One transfer while the receiving bank is down

South is down for the first minute. The credit is tried three times (the
first attempt and two retries, 5 s then 10 s apart), fails every time, and
its failure reaches `run()`: the instance fails terminally.""",
    ),
    (
        "code",
        """\
story = transfer("credit fails", seed=SEED)
print(story.instance.status())
print("handlers, in the order they ran:", story.handlers())
print("balances:", story.balances())""",
    ),
    ("code", "instance_timeline(story.sim)"),
    (
        "md",
        """\
Read the timeline from the left: the debit succeeds at once; the three credit
attempts fail (red), with the retry waits between them (grey). Where the
dashed line marks `run()` failing, the rollback begins. The numbers in circles
give the order the handlers ran in: **1, the credit**, the step that failed,
whose handler saw `UNDEFINED` and had nothing to undo; **2, the debit**, whose
handler refunded alice. The books balance again.""",
    ),
    (
        "md",
        """\
## Three transfers, three rollbacks

The same saga in three situations. Look at which steps *started* and which
handlers ran.""",
    ),
    ("code", "pd.DataFrame({'what happens': CASES})"),
    ("code", "cases = cases_table(seed=SEED)\ncases"),
    (
        "md",
        """\
- **succeeds**: no failure, no rollback. Handlers are not "finally" blocks.
- **credit fails**: both steps started, so both are rolled back, newest start
  first: the credit (with `UNDEFINED`), then the debit.
- **debit refused**: `InsufficientFunds` is not retried, so `run()` fails at
  the first step. The credit never started and is **not** rolled back; the
  debit is, with `UNDEFINED`, and its handler correctly does nothing: a
  refused debit moved no money.

The last case is why the failing step is rolled back at all: a step can fail
*after* its effect landed (the answer was lost on the way back, the attempt
timed out). Only the handler can find out. Notebook 03 is about that.""",
    ),
    (
        "md",
        """\
## Many transfers at once

`scenarios/bank_transfer.toml` runs transfers every 100 ms while south is
down from 15 s to 25 s (400 of them at full scale). The transfers whose
credits meet the outage through all their retries roll back; the rest go
through. Whatever happens, money is neither made nor lost: the conservation
check compares both banks' totals before and after.""",
    ),
    (
        "code",
        """\
instances = at_scale(SCALE, small=100, full=400)
run = run_scenario("bank_transfer", {"simulation.instances": instances}, seed=SEED)
print(statuses(run.sim))
books(run)""",
    ),
    ("code", "violations = run.violations()\nprint(len(violations), 'violations')"),
    ("code", "instances_chart(run.sim)"),
    ("code", 'load_chart(run.services["south"], run.sim)'),
    (
        "md",
        """\
The load chart of the south bank shows the outage: requests keep coming,
all fail, and the retries (bottom panel) pile up until it ends.

## Explore

The explorer runs the built-in transfer saga under knobs you set; nothing runs
until you press **Run**. Try a retry limit of 0 and of 6, or turn on lost
replies and see which checks start to complain.""",
    ),
    ("code", 'explorer = Explorer("transfer", seed=SEED, run=True)\nexplorer'),
    ("md", "## What this notebook claims, checked"),
    (
        "code",
        """\
rows = cases.set_index("case")
assert rows.loc["succeeds", "handlers run"] == "none"
assert rows.loc["credit fails", "handlers run"] == "credit (UNDEFINED), debit"
assert rows.loc["debit refused", "handlers run"] == "debit (UNDEFINED)"
assert (rows["alice"] + rows["bob"] == 10_000).all()
assert books(run).loc["total", "opening"] == books(run).loc["total", "closing"]
assert violations.empty
print("all claims hold")""",
    ),
]


ORDERING: list[Cell] = [
    (
        "md",
        """\
# 02 · Reverse start order, not completion order, with parallel steps

When steps run one after another, "undo the newest first" is unambiguous. With
steps in **parallel** (`step.do` calls started together and awaited with
`sagasim.gather`, the lab's `Promise.all`) there are two candidate orders:

- reverse order of **start**: fixed by the code, the same on every run and
  every replay;
- reverse order of **completion**: decided by the network, different from
  run to run.

Cloudflare Workflows rolls back in reverse **start** order, because completion
order inside `Promise.all` is nondeterministic: a rollback order that depends
on latencies could differ between the run and its replay after a crash. This
notebook shows the two orders disagreeing, how often they do, and what
happens to steps still **in flight** when a parallel sibling fails.

**Seed: 0.**""",
    ),
    ("params", _params(0)),
    (
        "code",
        _SETUP
        + """

from sagasim.plots import disagreement_chart, ordering_chart, ordering_disagreement
from sagasim.teaching.ordering import (
    orders_across_seeds,
    orders_table,
    policies_table,
    trip,
)
from sagasim.widgets import Explorer""",
    ),
    (
        "md",
        """\
## A trip booked in parallel

`Trip` books a flight, a hotel and a car at three suppliers, started in that
order at the same instant, each answering in 50 to 400 ms; then the payment
is declined and all three bookings are released.""",
    ),
    ("code", "run = trip(SEED)\norders_table(run)"),
    ("code", "ordering_chart(run.sim)"),
    (
        "md",
        """\
The left column is what the engine did (car, hotel, flight: reverse start);
the right column is reverse completion. Red lines cross where the two orders
disagree.

## The same code, different seeds

Start order never changes; completion order is a draw.""",
    ),
    (
        "code",
        """\
across = orders_across_seeds(range(SEED, SEED + 8))
across""",
    ),
    (
        "md",
        """\
The `undone (engine)` column is the same on every row. If the engine used the
`reverse completion` column instead, a replay of the same instance after a
crash (which re-runs the code but not the network) could not be sure to
reproduce it.

## How often do they disagree?

Fan-outs of 1 to 8 parallel steps, started 20 ms apart, with log-normal
latencies of growing spread (σ = 0: every leg takes exactly 100 ms, so they
finish in start order).""",
    ),
    (
        "code",
        """\
table = ordering_disagreement(
    concurrency=at_scale(SCALE, (1, 2, 4, 8), (1, 2, 3, 4, 6, 8)),
    spread=at_scale(SCALE, (0.0, 0.25, 1.0), (0.0, 0.1, 0.25, 0.5, 1.0)),
    instances=at_scale(SCALE, 10, 200),
    seed=SEED,
)
disagreement_chart(table)""",
    ),
    (
        "md",
        """\
With one step there is nothing to disagree about; with no spread the orders
agree because the legs finish in the order they started. As soon as latencies
spread more than the starts, most multi-step rollbacks would come out in a
different order: an order that nobody wrote down and nobody can test.

## A parallel step fails while its siblings are in flight

Now the hotel is full: its refusal fails `run()` while the flight and the car
may still be on their way. What happens to them is the engine's **in-flight
policy**:

- `cancel` (the default): stop them at once; their handlers see `UNDEFINED`;
- `drain`: wait for them to settle, then roll back with their outputs;
- `race`: start rolling back while they run.""",
    ),
    (
        "code",
        """\
policies = policies_table(at_scale(SCALE, 40, 400), seed=SEED)
policies""",
    ),
    (
        "md",
        """\
All three roll back in reverse start order. The difference is what the
handlers know. Under `cancel` a booking still travelling was cut off before it
arrived, so fewer holds land; every handler releases by key and takes "no such
hold" as nothing to undo. Under `drain` every booking lands and every handler
gets its output, at the price of a slower rollback. Under `race` a release by
key can reach the supplier **before** the hold it undoes: the release finds
nothing, the hold lands afterwards, and nobody ever releases it (`hold_leak`).
That is how a compensation overtakes its action.

## Explore

The built-in `fan-out` saga books `width` legs in parallel, pays, then mails a
confirmation; the failure knob makes the confirmation fail. Change the width
and the in-flight policy, then press **Run**.""",
    ),
    (
        "code",
        'explorer = Explorer("fan-out", seed=SEED, failure=0.3, run=True)\nexplorer',
    ),
    ("md", "## What this notebook claims, checked"),
    (
        "code",
        """\
assert across["undone (engine)"].nunique() == 1
assert across["undone (engine)"].iloc[0] == "car > hotel > flight"
assert (across["undone (engine)"] != across["reverse completion"]).any()
assert table.loc[table["spread"] == 0.0, "rate"].eq(0).all()
assert table.loc[table["concurrency"] == 1, "rate"].eq(0).all()
by_policy = policies.set_index("inflight")
assert by_policy.loc["drain", "holds left"] == 0
assert by_policy.loc["cancel", "holds left"] == 0
assert by_policy.loc["drain", "holds landed"] >= by_policy.loc["cancel", "holds landed"]
print("all claims hold")""",
    ),
]


MIDFLIGHT: list[Cell] = [
    (
        "md",
        """\
# 03 · Mid-flight failures and `UNDEFINED` output

A step can fail **after** its effect landed. The card processor charged the
customer, and then the answer was lost: a timeout, a dropped connection, a
crash. The step retries; if every answer is lost it fails for good, `run()`
fails, and the charge's rollback handler is called with `output` =
`UNDEFINED`, although the customer *was* charged. Or the processor was down
and nothing was charged at all: the handler sees the same `UNDEFINED`.

The handler cannot tell the two apart from its arguments. It can only act on
what it knows **out of band**: here, the idempotency key of the charge, built
from the instance id *before* the call, so it is the same on every attempt
and every replay, and known even when no answer ever came back.

**Seed: 0.**""",
    ),
    ("params", _params(0)),
    (
        "code",
        _SETUP
        + """

import inspect

from sagasim.plots import instance_timeline
from sagasim.teaching.common import run_scenario, statuses
from sagasim.teaching.midflight import (
    HANDLERS,
    Checkout,
    checkout_run,
    compare_chart,
    compare_handlers,
)""",
    ),
    (
        "md",
        """\
## The checkout, and four ways to write its compensation

`Checkout` reserves a unit of stock, charges the card, then ships. Half of the
charge attempts lose their answer; the processor is down from 4 s to 6 s; one
order in five is refused at shipping. Each run gives every checkout the same
charge handler, one of four:""",
    ),
    ("code", "print(inspect.getsource(Checkout.run))"),
    (
        "code",
        """\
instances = at_scale(SCALE, small=200, full=2_000)
table = compare_handlers(instances=instances, seed=SEED)
table""",
    ),
    ("code", "compare_chart(table)"),
    (
        "md",
        """\
- **output only** trusts `output`. Every charge whose answer was lost is kept:
  the customer paid for an order that failed (`charge_leak`).
- **find by key** asks the processor for the charge made with its key
  (`payments.find(key)`), refunds it if there is one, and does nothing if
  there is none. Nothing leaks.
- **refund by key** refunds by key blindly. Where the charge never happened
  the processor refuses (`UnknownCharge`, not retryable), the handler fails
  for good, and the rollback **halts**: the reservation made before the
  charge is never released.
- **refund by key, best effort** treats "nothing to undo" and "already undone"
  as success. A compensation has to be written for a world in which its step
  may or may not have happened.

## One of them, up close

A checkout whose charge lost every answer, rolled back with *find by key*.""",
    ),
    (
        "code",
        """\
sim = checkout_run("find by key", instances=instances, seed=SEED)
payments = sim.bindings["payments"]
charged = {charge["key"].split(":")[0] for charge in payments.charges.values()}
lost = next(
    i for i in sim.instances
    if i.id in charged and any(r["output_undefined"] for r in i.rollbacks)
)
print(lost.id, lost.status()["error"])
print(lost.rollbacks)
instance_timeline(sim, lost)""",
    ),
    (
        "md",
        """\
The charge row shows its attempts failing with a black cross each (the
injected lost answer) although each one landed; the rollback starts at the
charge (handler 1, which found the charge by key and refunded it) and then
releases the reservation (handler 2).

## The bundled scenario

`scenarios/lost_refund.toml` is the same lesson as a scenario file: four
customers never hear back from the processor and are refunded by key.""",
    ),
    (
        "code",
        """\
scenario = run_scenario("lost_refund", seed=3)
print(statuses(scenario.sim))
print(len(scenario.violations()), "violations")""",
    ),
    ("md", "## What this notebook claims, checked"),
    (
        "code",
        """\
rows = table.set_index("handler")
assert rows.loc["output only", "kept"] > 0
assert rows.loc["find by key", "kept"] == 0 and rows.loc["find by key", "leaks"] == 0
assert rows.loc["refund by key", "handler failed"] > 0
assert rows.loc["refund by key", "holds kept"] > 0
assert rows.loc["refund by key, best effort", "violations"] == 0
assert scenario.violations().empty
print("all claims hold")""",
    ),
]


IDEMPOTENCY: list[Cell] = [
    (
        "md",
        """\
# 04 · Idempotency: retries and crashes against steps and handlers

The engine gives you **at-least-once** execution, twice over:

- a **step** runs again when its answer is lost (a retry) and when the engine
  crashes after the effect but before the output was stored (a replay);
- a **rollback handler** runs again when its answer is lost and when the
  engine crashes in the middle of the rollback.

Whether running twice is harmless is decided by the call, not the engine: a
charge or refund made with an **idempotency key** is applied once however
often it is sent; one without is applied every time.

**Seed: 0.**""",
    ),
    ("params", _params(0)),
    (
        "code",
        _SETUP
        + """

from sagasim.plots import idempotency_chart, idempotency_runs
from sagasim.teaching.common import run_scenario
from sagasim.teaching.idempotency import FAULTS, matrix, matrix_chart
from sagasim.widgets import Explorer""",
    ),
    (
        "md",
        """\
## Four faults, two keys

Every `Purchase` charges the customer, then shipping is refused, so every
purchase is refunded. Each run puts one fault on every purchase: two hit the
charge, two hit the refund handler. The charge and the refund are each made
with a key or without one. In the end the merchant should hold nothing.""",
    ),
    (
        "code",
        """\
pd.DataFrame({"fault": {name: fault.describe() for name, fault in FAULTS.items()}})""",
    ),
    (
        "code",
        """\
grid = matrix(instances=at_scale(SCALE, small=20, full=200), seed=SEED)
grid""",
    ),
    ("code", "matrix_chart(grid)"),
    (
        "md",
        """\
Each key protects against its own faults and only those:

- the **charge key** makes the retried and the replayed charge one charge; without
  it the customer is charged twice and refunded once (the merchant keeps the
  difference);
- the **refund key** makes the handler that runs again one refund; without it
  the customer is refunded twice (the merchant loses the difference).

A saga is safe only when every step **and** every handler is idempotent.

## Lost replies at every rate

The lab's `Order` saga (charge, hold, ship; one order in three fails at
shipping) with a lost-reply fault on charges, holds and handlers, at growing
probabilities, with keys and without.""",
    ),
    (
        "code",
        """\
runs = idempotency_runs(
    failure_rates=at_scale(SCALE, (0.0, 0.2, 0.4), (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)),
    instances=at_scale(SCALE, 30, 300),
    seeds=[SEED],
)
idempotency_chart(runs)""",
    ),
    (
        "md",
        """\
With keys there are no double effects at any rate. At the highest rates a
few charges still leak even with keys: a refund handler whose every answer is
lost runs out of its retries and fails. Keys make running twice safe; only
enough retries (`rollback_config`) make running at all likely.

## The bundled contrast pair

`idempotency_contrast_on.toml` and `_off.toml` are the same orders, faults and
seed; only the keys and the idempotent release differ.""",
    ),
    (
        "code",
        """\
contrast = {
    name: run_scenario(f"idempotency_contrast_{name}").violations()["check"]
    .value_counts()
    .to_dict()
    for name in ("on", "off")
}
contrast""",
    ),
    (
        "md",
        """\
## Explore

The fan-out saga with lost replies and a failing last step, keys off. Tick
**idempotency keys** and press **Run**: the double effects go; the
irreversible mails do not (notebook 07).""",
    ),
    (
        "code",
        """\
explorer = Explorer(
    "fan-out", seed=SEED, lost_reply=0.2, failure=0.3, idempotent=False, run=True
)
explorer""",
    ),
    ("md", "## What this notebook claims, checked"),
    (
        "code",
        """\
both = grid[grid["charge key"] & grid["refund key"]]
assert (both["kept"] == 0).all() and (both["double_effects"] == 0).all()
neither = grid[~grid["charge key"] & ~grid["refund key"]]
assert (neither["kept"] != 0).all()
keyed = runs[runs["idempotent"]].set_index("failure_rate")
unkeyed = runs[~runs["idempotent"]].set_index("failure_rate")
assert (keyed["double_effects"] == 0).all()
assert (keyed["drift"] <= unkeyed["drift"]).all()
assert contrast["on"] == {}
assert contrast["off"]
print("all claims hold")""",
    ),
]


STORMS: list[Cell] = [
    (
        "md",
        """\
# 05 · Retry storms

Retries are how a saga survives a short outage. They are also load: every
instance that failed during the outage comes back when it ends, on top of the
traffic that never stopped. If the service cannot serve that wave before its
callers give up (a queue timeout, an attempt timeout), most of the wave fails
and is retried again; the service stays overloaded after its trigger is gone.
That is a **metastable failure**: the outage started it, the retries keep it
going.

The study below runs the same outage under several retry strategies:
Cloudflare's constant, linear and exponential backoff, with and without a
retry limit, and exponential backoff with **jitter** (random spreading of the
waits). Jitter is a **lab extension, not Cloudflare's behaviour**: Cloudflare's
backoff has no jitter, and strategies that use it say "(lab)".

It uses the lab's retry-storm experiment, `sagasim.storms.run_storm`, when this
installation has it, and otherwise a small storm built here from the same
capacity-limited endpoint (`sagasim.teaching.storms.small_storm`); the next
cells print which one ran.

**Seed: 0.**""",
    ),
    ("params", _params(0)),
    (
        "code",
        _SETUP
        + """

import math

from sagasim.teaching.storms import has_storm_experiment, storm_study, study_chart""",
    ),
    (
        "code",
        """\
study = storm_study(SCALE, seed=SEED)
print("storm model:", study.source)
print("outage:", study.outage)
study.table""",
    ),
    ("code", "study_chart(study)"),
    (
        "md",
        """\
How to read it, strategy by strategy:

- **constant** retries come back every second, all together: the offered load
  stays far above what the service serves for a long time after the outage,
  and every instance makes many attempts;
- **exponential** backoff makes fewer attempts, but instances that failed
  together retry together: the waves come back at 1, 2, 4, 8... seconds, each
  one an overload of its own, so recovery is late (or not within the run);
- a **retry limit** ends the storm soon after the outage, at the price of the
  instances that gave up (a saga would roll them back);
- **jitter** (lab) spreads each wave over its whole interval, so the service
  sees a load it can serve: it recovers early without giving up on anyone.""",
    ),
    ("md", "## What this notebook claims, checked"),
    (
        "code",
        """\
rows = study.table.set_index("strategy")
jittered = [name for name in rows.index if "full jitter" in name][0]
plain = [name for name in rows.index if name.startswith("exponential") and
         "jitter" not in name and "limit" not in name][0]
constant = [name for name in rows.index if name.startswith("constant")][0]


def late(value):
    return math.inf if math.isnan(value) else value


assert not math.isnan(rows.loc[jittered, "recovery_s"])
assert late(rows.loc[jittered, "recovery_s"]) <= late(rows.loc[plain, "recovery_s"])
assert rows.loc[constant, "attempts"] > rows.loc[jittered, "attempts"]
assert study.source == ("sagasim.storms" if has_storm_experiment()
                        else "sagasim.teaching.storms")
print("all claims hold")""",
    ),
]


INVARIANTS: list[Cell] = [
    (
        "md",
        """\
# 06 · Ordering invariants at scale, with Hypothesis

Examples show a rule once; a property holds it on every example a generator
can think of. Here the rule is the rollback order: *every step that started and
registered a handler is undone once, newest start first, and only after a
terminal failure*, whatever the shape of the saga, its parallel groups, its
latencies and its in-flight policy.

A **shape** is plain data: groups of parallel legs, each leg a step that takes
some milliseconds, may have a handler and may fail. `expected_rollback(shape)`
computes from the shape alone which handlers must run and in what order; the
engine and this model are written separately, and
`sagasim.checks.rollback_ordering` reads the trace as a third opinion.
Hypothesis draws the shapes, and shrinks a failing one to the smallest.

**Seed: 0** (for the runs at scale; Hypothesis is derandomized, so it draws the
same shapes on every run).""",
    ),
    ("params", _params(0)),
    (
        "code",
        _SETUP
        + """

import random

from sagasim.plots import ordering_chart
from sagasim.teaching.invariants import (
    check_ordering,
    compare_orders,
    counterexample,
    describe,
    expected_rollback,
    ordering_at_scale,
    random_shape,
    run_shape,
)""",
    ),
    (
        "md",
        """\
## One shape

`+h` marks a leg with a handler, `!` one that fails.""",
    ),
    (
        "code",
        """\
rng = random.Random(SEED)
shape = next(s for s in (random_shape(rng) for _ in range(100)) if expected_rollback(s))
print(describe(shape))
sim, instance = run_shape(shape)
print("model: ", expected_rollback(shape))
print("engine:", [r["step"] for r in instance.rollbacks])""",
    ),
    (
        "md",
        """\
## The property, on many shapes

`check_ordering` is a Hypothesis test: it runs every drawn shape, compares the
engine with the model and the trace with the check, and returns one row per
example. A disagreement would raise, with the smallest shape that shows it.""",
    ),
    (
        "code",
        """\
examples = check_ordering(max_examples=at_scale(SCALE, small=60, full=1_000))
print(len(examples), "shapes,", int(examples["rolled back"].sum()), "rolled back")
examples.groupby("policy")[["steps", "handlers"]].agg(["count", "sum", "max"])""",
    ),
    ("code", "examples.sort_values('steps', ascending=False).head(5)"),
    (
        "md",
        """\
## A claim that is false: "rollback runs in reverse completion order"

Ask Hypothesis for a shape on which the engine's order differs from reverse
completion order. It finds one and shrinks it to almost nothing.""",
    ),
    (
        "code",
        """\
smallest = counterexample()
print(describe(smallest))
compare_orders(smallest)""",
    ),
    ("code", "ordering_chart(run_shape(smallest)[0])"),
    (
        "md",
        """\
A single group of a few legs is enough: one leg fails, a leg started later has
already finished, another is still in flight when the failure comes and is
cancelled (it settles last). The engine undoes the newest start first; reverse
completion would undo the one that settled last first. Nothing in the code
says which leg finishes first; that is the point.

Hypothesis is derandomized here, but its search also draws on constants it
finds in the code that is loaded, so the shape it reports can differ a little
with what else this process has imported; the claims below hold for any shape
it reports.

## At scale

Many random shapes in one simulation per in-flight policy, every instance
held to the model and the whole trace to the check.""",
    ),
    (
        "code",
        """\
scale = ordering_at_scale(at_scale(SCALE, small=600, full=20_000), seed=SEED)
scale""",
    ),
    (
        "md",
        """\
## In your own tests

The same idea as a pytest test, with the lab's checks:

```python
from hypothesis import given, settings
from sagasim.checks import rollback_ordering
from sagasim.teaching.invariants import expected_rollback, run_shape, shapes

@settings(max_examples=500, deadline=None)
@given(shapes())
def test_rollback_runs_in_reverse_start_order(shape):
    sim, instance = run_shape(shape)
    assert [r["step"] for r in instance.rollbacks] == expected_rollback(shape)
    assert rollback_ordering(sim.trace).empty
```""",
    ),
    ("md", "## What this notebook claims, checked"),
    (
        "code",
        """\
assert examples["agrees"].all() and examples["rolled back"].any()
assert set(examples["policy"]) == {"cancel", "drain", "race"}
smallest_sim, smallest_instance = run_shape(smallest)
undone = [r["step"] for r in smallest_instance.rollbacks]
assert undone == expected_rollback(smallest)
assert list(compare_orders(smallest)["reverse completion would"]) != list(
    range(1, len(undone) + 1)
)
assert sum(len(group) for group in smallest["groups"]) <= 5
assert scale["disagreements"] == 0 and scale["violations"] == 0
assert scale["rollbacks"] > 0
print("all claims hold")""",
    ),
]


ALTERNATIVES: list[Cell] = [
    (
        "md",
        """\
# 07 · When not to roll back

A rollback is for a saga that **cannot go on**. It is not free: it undoes work
that may have been a moment from succeeding, it leaves the world visibly
inconsistent while it runs, and it cannot undo everything. Three cases where
something else is better:

1. **continuation**: the failure is transient, so retry until it works;
2. **a local transaction**: the effects live in one system that can apply them
   atomically, so there is nothing to compensate;
3. **correction events**: the effect cannot be undone (a mail), so do it last,
   or compensate with a new event that corrects it.

**Seed: 7.**""",
    ),
    ("params", _params(7)),
    (
        "code",
        _SETUP
        + """

from sagasim.teaching.alternatives import (
    continuation,
    continuation_chart,
    corrections,
    corrections_chart,
    local_transaction,
    local_transaction_chart,
)""",
    ),
    (
        "md",
        """\
## 1. Continuation: retry through the outage

The built-in transfer saga (south is down from 4 s to 9 s), once with a retry
limit of 2 (retries are over before the outage is) and once with 8.""",
    ),
    (
        "code",
        """\
retries, runs = continuation(instances=at_scale(SCALE, small=120, full=600), seed=SEED)
retries""",
    ),
    ("code", "continuation_chart(runs)"),
    (
        "md",
        """\
With the short limit, the transfers caught by the outage are rolled back and
refunded a second or two before south comes back; their customers must start
again. With the long limit every transfer goes through, a little later. The
rule of thumb: **retry what is transient, roll back what is refused.** A
declined card will not change its mind (a `NonRetryableError` ends the retries
at once); a bank that is down will come back.

## 2. A local transaction: one system, one atomic request

When both accounts are at one bank, the bank can move the money in one
request. `LedgerBank` (a small model of the teaching package: a `Bank` with a
`transfer` operation) applies the debit and the credit at one instant, or
neither. The two-step saga does the same job with a debit, a credit and a
compensation. One transfer in five names an account that does not exist.""",
    ),
    (
        "code",
        """\
ledger, totals = local_transaction(at_scale(SCALE, small=100, full=1_000), seed=SEED)
ledger""",
    ),
    ("code", "local_transaction_chart(totals)"),
    (
        "md",
        """\
Both ways refuse the same transfers and end with the same balances. But while
the saga runs, money has left alice and not reached bob: anyone who reads the
balances sees it missing (the dips), and every refused transfer needs a
compensation. The local transaction never shows an inconsistent total and has
nothing to roll back. A saga is for effects across systems that share no
transaction; inside one system, use the system's transaction.

## 3. Correction events: what cannot be undone

A mail, once sent, stays sent. `Mailer.correct` sends a correction that the
ledger links to the original; it compensates without undoing. Orders where
one in four is refused at shipping, with the confirmation mailed early (right
after the charge, with a correction as its compensation) or last (after
shipping, when nothing can fail any more).""",
    ),
    (
        "code",
        "mails = corrections(at_scale(SCALE, small=100, full=1_000), seed=SEED)\nmails",
    ),
    ("code", "corrections_chart(mails)"),
    (
        "md",
        """\
Mailing early, every refused order costs its customer a wrong confirmation
and a correction, and the `irreversible` check flags each one. Mailing last,
nobody is told anything wrong. Put what cannot be undone **after** everything
that can still fail; when that is impossible, plan the correction event as the
compensation and say so.

## Choosing

| the failure | do |
|---|---|
| transient (outage, overload, timeout) | retry with backoff, longer than it lasts |
| refused (declined, out of stock, invalid) | roll back |
| effects in one system | one local transaction, no saga |
| an effect that cannot be undone | do it last, or compensate with a correction |""",
    ),
    ("md", "## What this notebook claims, checked"),
    (
        "code",
        """\
by_limit = retries.set_index("retry limit")
assert by_limit.loc[2, "rolled back"] > 0 and by_limit.loc[2, "refunds"] > 0
assert by_limit.loc[8, "rolled back"] == 0
local = ledger.set_index("way")
assert local.loc["local", "most in flight (cents)"] == 0
assert local.loc["saga", "most in flight (cents)"] > 0
assert local.loc["saga", "refused"] == local.loc["local", "refused"]
by_mail = mails.set_index("mail")
assert by_mail.loc["last", "irreversible"] == 0
assert by_mail.loc["early", "corrections"] == by_mail.loc["early", "rolled back"]
print("all claims hold")""",
    ),
]


NOTEBOOKS: dict[str, list[Cell]] = {
    "01_saga_basics": BASICS,
    "02_rollback_order": ORDERING,
    "03_midflight_failures": MIDFLIGHT,
    "04_idempotency": IDEMPOTENCY,
    "05_retry_storms": STORMS,
    "06_ordering_invariants": INVARIANTS,
    "07_when_not_to_roll_back": ALTERNATIVES,
}
"""Every notebook by file stem, in teaching order."""


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` (a key of :data:`NOTEBOOKS`), outputs empty,
    cell ids ``"<name>-<index>"``."""
    notebook = new_notebook()
    cells = []
    for index, (kind, source) in enumerate(NOTEBOOKS[name]):
        if kind == "md":
            cell = new_markdown_cell(source)
        else:
            cell = new_code_cell(source)
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
        cell["id"] = f"{name[:40]}-{index:02d}"
        cells.append(cell)
    notebook.cells = cells
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    nbformat.validate(notebook)
    return notebook


def write_all(folder: str | Path = "notebooks") -> list[Path]:
    """Write every notebook into ``folder``; return the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in NOTEBOOKS:
        path = folder / f"{name}.ipynb"
        nbformat.write(build(name), path)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write_all(sys.argv[1] if len(sys.argv) > 1 else "notebooks"):
        print(written)
