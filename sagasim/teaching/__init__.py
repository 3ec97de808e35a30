"""The models behind the teaching notebooks (``notebooks/*.ipynb``).

Each notebook calls one module here; the cells hold prose, a run and a
chart, never the model itself. Modules, by notebook:

- :mod:`~sagasim.teaching.basics` (01): one bank transfer in three cases;
- :mod:`~sagasim.teaching.ordering` (02): parallel bookings, start against
  completion order, the in-flight policies;
- :mod:`~sagasim.teaching.midflight` (03): lost answers, ``UNDEFINED``,
  four ways to write a compensation;
- :mod:`~sagasim.teaching.idempotency` (04): faults against keyed and
  unkeyed steps and handlers;
- :mod:`~sagasim.teaching.storms` (05): a retry storm after an outage;
- :mod:`~sagasim.teaching.invariants` (06): rollback order as a Hypothesis
  property (needs the ``test`` extra, for Hypothesis);
- :mod:`~sagasim.teaching.alternatives` (07): continuation, a local
  transaction, correction events.

:mod:`~sagasim.teaching.common` has the scale knob and scenario helpers,
and :mod:`~sagasim.teaching.notebooks` writes the notebooks themselves
(``python -m sagasim.teaching.notebooks``). Nothing is imported here, so
that importing one model does not import them all.
"""
