# The optional modules (cookies, sessions, CORS, auth, templates) on one app,
# served by the real server (run as a script) or driven by the test client
# (extensions_client.py imports it).
import sys

from httpserver import App, JSONResponse
from httpserver.auth import BasicAuth, BearerAuth
from httpserver.cors import cors
from httpserver.sessions import sessions
from httpserver.templates import render_template

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
TEMPLATES = HERE + "/templates"
SECRET = "test secret key, not for a real board"

app = App()
cors(app, origins=["https://allowed.example"], credentials=True, max_age=600)
sessions(app, SECRET, max_age=3600)
basic = BasicAuth(users={"admin": "s3cret"}, realm="board")
bearer = BearerAuth(tokens={"token-123": "robot"})


@app.get("/cookies")
def show_cookies(request):
    return request.cookies


@app.get("/set-cookies")
def set_cookies(request):
    response = JSONResponse({"set": 2})
    response.set_cookie("theme", "dark", max_age=60, httponly=True, samesite="Lax")
    response.set_cookie("lang", "en", path="/docs", secure=True)
    response.delete_cookie("old")
    return response


@app.get("/session")
def show_session(request):
    return request.session.data


@app.post("/session")
def update_session(request):
    request.session.update(request.json())
    return request.session.data


@app.post("/logout")
def logout(request):
    request.session.clear()
    return {"logged_out": True}


@app.get("/api/data")
def data(request):
    return {"data": 42}


@app.get("/admin")
@basic
def admin(request):
    return {"user": request.user}


@app.get("/robot")
@bearer
def robot(request):
    return {"user": request.user}


@app.get("/page")
def page(request):
    rows = int(request.query_params.get("rows", ["3"])[0])
    return render_template(
        "page.html",
        directory=TEMPLATES,
        title=request.query_params.get("title", ["Board"])[0],
        rows=range(rows),
        note="<b>bold</b>",
    )


@app.get("/broken")
def broken(request):
    return render_template("broken.html", directory=TEMPLATES, items=[1, 0])


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
