"""Alert API routes under /api/ (a SimpleRouter: the API root belongs to wellbeing.api_urls)."""

from rest_framework.routers import SimpleRouter

from alerts.api import AlertViewSet, RuleViewSet

router = SimpleRouter()
router.register("alerts", AlertViewSet, basename="alert")
router.register("alert-rules", RuleViewSet, basename="alert-rule")

urlpatterns = router.urls
