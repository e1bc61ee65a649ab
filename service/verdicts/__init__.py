"""The verdict core: what forkwise says about a fork and why.

From a fork's git facts (:mod:`forkwise.index`): the decision (:mod:`.classify`: archetype, recommendation,
confidence, the notes a verdict states), its evidence catalogue (:mod:`.evidence`), what the fork is for in its
authors' words (:mod:`.purpose`), the sentences (:mod:`.writer` fills templates; :mod:`.llm_writer` asks a model,
held to the same checks, :mod:`.checks`), the report that gathers them (:mod:`.report`, :mod:`.models`) and cited
answers over the index (:mod:`.chat`). Nothing here stores, schedules or serves.
"""
