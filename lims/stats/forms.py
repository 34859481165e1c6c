"""The period filter of the statistics pages (a GET form: no CSRF token)."""

from __future__ import annotations

from wtforms import Form
from wtforms.fields import DateField
from wtforms.validators import Optional


class DayField(DateField):
    """A calendar day typed as YYYY-MM-DD, with an error that shows what was typed."""

    def process_formdata(self, valuelist):
        """Parse the day or say what is wrong with it."""
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(f"Enter a date like 2026-03-31, not {valuelist[0][:40]!r}."
                             ) from error


class PeriodForm(Form):
    """From and to dates, inclusive, in the laboratory's time zone."""

    start = DayField("From", name="from", validators=[Optional()], format="%Y-%m-%d",
                     description="Default: a year before the end")
    end = DayField("To", name="to", validators=[Optional()], format="%Y-%m-%d",
                   description="Default: today")
