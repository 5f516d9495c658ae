"""Phase 5, postmortem: drafting by the postmortem-analyst, review and publishing, action
items.

Modules:
- ``action_items``: action items tracked to done;
- ``drafting``: the postmortem-analyst's drafts;
- ``review``: revisions, comments, checks, publishing.
"""

# The modules are the public names; they are imported by name, not here, so that a phase
# package never imports another one as a side effect.
__all__ = ["action_items", "drafting", "review"]
