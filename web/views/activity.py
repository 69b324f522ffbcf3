"""A team's activity: its audit log (filtered, cursor-paged) and usage charts."""

from datetime import UTC, datetime, time, timedelta

from django.shortcuts import render
from django.utils import timezone

from memories import selectors
from memoryhub.errors import DomainError
from web.charts import bar_chart, line_chart
from web.forms import ActivityFilterForm
from web.pagination import cursor_page, query_with_cursor
from web.views.base import WebView
from web.views.teams import TeamMixin

PAGE = 50


class ActivityView(TeamMixin, WebView):
    def get(self, request, team_slug):
        team = self.get_team()
        form = ActivityFilterForm(request.GET or None)
        valid = form.is_valid() if form.is_bound else True
        filters = form.filters() if form.is_bound and valid else {}
        days = (form.cleaned_data.get("days") if form.is_bound and valid else 30) or 30
        cursor = request.GET.get("cursor") or None
        error = None if valid else "Check the filter fields below."
        events, next_cursor = [], None
        if valid:
            try:
                events, next_cursor = cursor_page(
                    selectors.team_activity(
                        actor=self.actor, team=team, filters=filters
                    ),
                    cursor,
                    PAGE,
                    field="at",
                    pk_type=int,
                )
            except DomainError as exc:
                error = exc.message
        context = {
            **self.team_context(team, "web:team_activity", ("Activity", None)),
            "form": form,
            "events": events,
            "error": error,
            "cursor": cursor,
            "next_query": query_with_cursor(request.GET, next_cursor),
            "first_query": query_with_cursor(request.GET, None, keep=False),
            "charts": self._charts(team, days),
            "days": days,
        }
        return render(request, "web/team/activity.html", context)

    def _charts(self, team, days: int) -> list[dict]:
        today = timezone.now().date()
        window = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
        since = datetime.combine(window[0], time.min, tzinfo=UTC)
        usage = selectors.team_usage(actor=self.actor, team=team, since=since)
        events, added = usage["events"], usage["added"]
        total, totals = usage["before"], []
        for day in window:
            total += added.get(day, 0)
            totals.append(total)

        def per_day(key):
            return [events[day][key] if day in events else None for day in window]

        return [
            line_chart("Memories", window, {"memories": totals}),
            bar_chart(
                "Requests per day",
                window,
                [events[day]["requests"] if day in events else 0 for day in window],
            ),
            bar_chart(
                "Searches per day",
                window,
                [events[day]["searches"] if day in events else 0 for day in window],
            ),
            line_chart(
                "Request time per day",
                window,
                {"p50": per_day("p50"), "p95": per_day("p95")},
                unit=" ms",
            ),
        ]
