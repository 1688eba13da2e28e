"""The production WSGI app plus one bare endpoint, served by the same gunicorn (ingress baseline).

`POST /bench/bare` reads the body and answers 200, nothing else: the gap between it and
`POST /line/webhook` is what the relay itself costs per request.
"""

from flask import request

from connector.entrypoints.wsgi import app


@app.post("/bench/bare")
def bare():
    request.get_data(cache=False)
    return "", 200
