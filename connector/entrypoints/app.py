"""Flask application factory: the edges in. Everything slow happens in workers."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.middleware.proxy_fix import ProxyFix

from connector.config import Config
from connector.logs import configure_logging
from connector.runtime import Runtime, get_runtime, set_runtime
from connector.web.edge import Edge


def create_app(config: Config | None = None) -> Flask:
    runtime = Runtime(config, web=True) if config is not None else get_runtime(web=True)
    if config is not None:
        set_runtime(runtime)
    configure_logging(runtime.settings.log_level, runtime.settings.log_format)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = runtime.settings.line.max_body_bytes
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False  # no browser calls the relay: OPTIONS is a 405 like PUT
    app.extensions["connector"] = runtime
    # Heroku's router terminates TLS: trust one proxy hop for scheme and host.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    settings = runtime.settings
    app.wsgi_app = Edge(
        app.wsgi_app,
        max_body_bytes=max(settings.line.max_body_bytes, settings.routing.callout_max_body_bytes),
        body_timeout_s=settings.web.body_timeout_seconds,
    )

    from connector.web.line import bp as line_bp
    from connector.web.ops import bp as ops_bp

    app.register_blueprint(line_bp)
    app.register_blueprint(ops_bp)
    from connector.web import call_page, media, salesforce, twilio

    app.register_blueprint(salesforce.bp)
    app.register_blueprint(media.bp)
    app.register_blueprint(twilio.bp)
    app.register_blueprint(call_page.bp)
    from connector.web import account_link

    app.register_blueprint(account_link.bp)

    @app.errorhandler(413)
    def too_large(_e):
        return jsonify(error="request body too large"), 413

    @app.errorhandler(404)
    def not_found(_e):
        return jsonify(error="not found"), 404

    @app.errorhandler(405)
    def not_allowed(_e):
        return jsonify(error="method not allowed"), 405

    logging.getLogger(__name__).info("connector web app ready: %d LINE channel(s)", len(runtime.config.channels))
    return app
