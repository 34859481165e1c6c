"""Customs laboratory LIMS: the application factory."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, request
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from lims.config import Settings, load_settings
from lims.db import db, install_session_hooks, tune_engine
from lims.errors import error_response, register_error_handlers

ROOT = Path(__file__).resolve().parent.parent
csrf = CSRFProtect()
migrate = Migrate()


def create_app(settings: Settings | None = None, testing: bool = False) -> Flask:
    """Build the application for the given settings (read from the environment by default)."""
    settings = settings or load_settings()
    app = Flask(__name__, template_folder=str(ROOT / "templates"),
                static_folder=str(ROOT / "static"))
    app.config.update(settings.flask_config())
    app.config["TESTING"] = testing
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops,
                                x_proto=settings.proxy_hops)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"),
                     render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    with app.app_context():
        tune_engine(db.engine)
    install_session_hooks(db.session.session_factory)

    # Blueprints are imported when an app is built (the Flask tutorial's factory): every
    # lims.* import runs this module first, so importing them at module level would be a cycle.
    from lims import models  # noqa: F401  (registers every table with the metadata)
    from lims.api.views import bp as api_bp
    from lims.auth.views import bp as auth_bp
    from lims.auth.views import load_current_user
    from lims.certificates import api as certificates_api
    from lims.certificates.views import bp as certificates_bp
    from lims.custody import api as custody_api
    from lims.custody.views import bp as custody_bp
    from lims.findings import api as findings_api
    from lims.findings.views import bp as findings_bp
    from lims.intake import api as intake_api
    from lims.intake.audit import bp as audit_bp
    from lims.intake.views import bp as intake_bp
    from lims.library.views import bp as library_bp
    from lims.main.views import bp as main_bp
    from lims.measurements import api as measurements_api
    from lims.measurements.views import bp as measurements_bp
    from lims.portal.views import bp as portal_bp
    from lims.search import api as search_api
    from lims.search.views import bp as search_bp
    from lims.spectra.views import bp as spectra_bp
    from lims.stats.views import bp as stats_bp
    from lims.templating import register_template_helpers
    from lims.web import install_hardening

    install_hardening(app)  # before the blueprints: their <int:...> ids are bounded
    api_bps = (api_bp, *(feature.bp for feature in (intake_api, custody_api, measurements_api,
                                                   search_api, findings_api, certificates_api)))
    for blueprint in (main_bp, auth_bp, intake_bp, custody_bp, audit_bp, measurements_bp,
                      spectra_bp, library_bp, search_bp, findings_bp, certificates_bp, portal_bp,
                      stats_bp, *api_bps):
        app.register_blueprint(blueprint)
    for blueprint in api_bps:  # bearer tokens, not cookies: no CSRF
        csrf.exempt(blueprint)
    register_error_handlers(app)
    register_template_helpers(app)

    @app.before_request
    def _refuse_nul_characters():
        # PostgreSQL cannot store NUL in text; no legitimate form value contains one.
        for source in (request.args, request.form):
            for name, value in source.items(multi=True):
                if "\x00" in value:
                    return error_response(422, f"The field {name!r} contains a NUL character.",
                                          name)
        return None

    @app.before_request
    def _identify():
        g.user = None
        return load_current_user()

    return app
