"""The checks every model-written sentence passes (service/verdicts/checks.py): each rule rejects what it names and lets
the facts writer's own sentences through."""

from __future__ import annotations

from forkwise.service.verdicts import checks

NAMES = ["habana-ai/trainer", "acme/trainer", "habana-ai", "trainer", "acme"]


def test_polarity_rejects_praise_and_contradictions() -> None:
    assert checks.polarity("you want the best choice for training", "fork", "choose_fork_if")[0].startswith(
        "polarity: says 'best'"
    )
    assert checks.polarity("It is the officially recommended fork.", "fork", "summary")  # never the model's to say
    # a fork the facts do not recommend is never called maintained, newer or faster
    assert checks.polarity("you want the maintained version", "upstream", "choose_fork_if") == [
        "polarity: claims 'maintained' for a fork the facts do not recommend"
    ]
    assert checks.polarity("you want the maintained version", "fork", "choose_fork_if") == []
    # nor is everyone sent to upstream when the facts recommend the fork
    assert checks.polarity("Use upstream instead.", "fork", "summary")
    assert checks.polarity("Use upstream instead.", "upstream", "summary") == []
    # the facts writer's own risk sentence is not praise
    assert checks.polarity("Check it before you adopt this fork.", "fork-for-niche", "risks") == []


def test_conditions_must_be_about_the_user() -> None:
    assert checks.condition("you need Habana Gaudi (HPU) support", NAMES) == []
    assert checks.condition("habana-ai/trainer (upstream: acme/trainer)", NAMES) == [
        "condition: 'habana-ai/trainer (upstream: acme/trainer)' is not a condition (it must start with 'you')",
        "condition: 'habana-ai/trainer (upstream: acme/trainer)' restates a label instead of a condition",
        "condition: 'habana-ai/trainer (upstream: acme/trainer)' says nothing beyond names",
    ]
    assert checks.condition("you want habana-ai/trainer", NAMES) == [
        "condition: 'you want habana-ai/trainer' says nothing beyond names"
    ]
    assert checks.condition("you are using upstream", NAMES) == [
        "condition: 'you are using upstream' says nothing beyond names"
    ]
    assert checks.condition("you need a niche-variant", NAMES)[0].endswith("restates a label instead of a condition")


def test_grounding_needs_every_content_word_in_the_evidence() -> None:
    corpus = ["hpu", "Habana Gaudi (HPU)", "trainer/accelerators/", "Add HPU accelerator backend"]
    assert checks.grounding("you need Habana Gaudi (HPU) support", corpus, NAMES) == []
    assert checks.grounding("you need the HPU accelerators", corpus, NAMES) == []  # stems meet
    assert checks.grounding("you need CUDA graphs on Gaudi", corpus, NAMES) == [
        "grounding: 'cuda', 'graphs' not in the terms or the cited evidence"
    ]


def test_a_rewrite_keeps_the_drafts_sense_and_section() -> None:
    draft = "you do not need those additions and prefer the canonical project"
    assert checks.rewrite("you do not need FP8 code", draft, "choose_upstream_if") == []
    assert checks.rewrite("you need those additions", draft, "choose_upstream_if") == [
        "polarity: 'you need those additions' drops the negation of the facts' condition"
    ]
    assert checks.rewrite("you should not use upstream", "you want the code itself", "choose_upstream_if") == [
        "polarity: 'you should not use upstream' negates the facts' condition",
        "polarity: says 'not use upstream' in choose upstream if",
    ]


def test_specific_and_repeated() -> None:
    topic = ["adds Habana Gaudi (HPU) support"]
    assert checks.specific("you need Gaudi support", topic, NAMES) == []
    assert checks.specific("you need what it adds", topic, NAMES)[0].startswith("vague: ")
    assert checks.repeated(
        {"choose_fork_if": ["you need Gaudi support"], "choose_upstream_if": ["You need Gaudi support."]}
    )
    # the two sides of one choice are not a repeat
    assert (
        checks.repeated({"choose_fork_if": ["you need FP8 code"], "choose_upstream_if": ["you do not need FP8 code"]})
        == []
    )


def test_problem_kinds() -> None:
    assert checks.kind("truncated: the answer was cut off at max_tokens (60)") == "truncated"
    assert checks.kind("number '500' is not a computed fact: 'x'") == "numbers"
    assert checks.kind("cites 'commit:dead', which was not in the EVIDENCE list") == "evidence"
