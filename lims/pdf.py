"""HTML to PDF through WeasyPrint, with no access to files or the network."""

import base64

from weasyprint import HTML, URLFetcher


def data_uri(content: bytes, media_type: str = "image/png") -> str:
    """Content as a base64 data: URI, the only kind of URL render_pdf will load."""
    return f"data:{media_type};base64,{base64.b64encode(content).decode('ascii')}"


def render_pdf(html: str) -> bytes:
    """Render an HTML document to PDF; every resource that is not a data: URI is refused."""
    # A template or a user's text must never pull /etc/passwd or an intranet URL into a
    # document: WeasyPrint drops the refused resource and logs a warning.
    fetcher = URLFetcher(allowed_protocols={"data"}, allow_redirects=False)
    return HTML(string=html, url_fetcher=fetcher).write_pdf()
