"""postmortem-analyst (Phase 5): the blameless draft from the incident record alone: key
times, timeline, root cause, 5 whys or fishbone, action items, what went well.

``agent`` is the entry; ``contract`` types the request, the record and the draft; ``record``
reads the incident record it is given.
"""

from so1.agents.postmortem.agent import PostmortemAnalyst
from so1.agents.postmortem.contract import (
    IncidentRecord,
    PostmortemDraft,
    PostmortemInputs,
    PostmortemRequest,
)

__all__ = [
    "IncidentRecord",
    "PostmortemAnalyst",
    "PostmortemDraft",
    "PostmortemInputs",
    "PostmortemRequest",
]
