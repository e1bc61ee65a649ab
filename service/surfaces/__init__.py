"""Surfaces: where people and programs reach forkwise.

The command line (:mod:`.cli`), the HTTP API (:mod:`.api`) and the web page (:mod:`.web`, ``static/``), Slack
(:mod:`.slack`), the digest (:mod:`.digest`), terminal rendering (:mod:`.console`), the demo (:mod:`.demo`), and
the guards every remote request passes (:mod:`.access`, :mod:`.guard`). Each parses, calls a use case
(:mod:`forkwise.service.runs.usecases`) and renders.
"""
