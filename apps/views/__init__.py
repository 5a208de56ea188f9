"""Panel views: `pn.viewable.Viewer` classes that compose specs and `workbench.plots`."""
from apps.views.lti_preview import LTIPreview

__all__ = ["LTIPreview"]
