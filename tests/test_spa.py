"""How Django serves the web app (issue 10): its page at every SPA path, its assets, and what stays outside it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from tests.factories import make_paper_account, make_strategy

INDEX = b"<!doctype html><html><head><script type=module src=/static/app/assets/index-RagTOHTn.js></script></head>"


@pytest.fixture
def built_app(tmp_path: Path, settings) -> Path:
    """A collected build in a STATIC_ROOT of its own, as `npm run build` and collectstatic leave it."""
    assets = tmp_path / "app" / "assets"
    assets.mkdir(parents=True)
    (tmp_path / "app" / "index.html").write_bytes(INDEX)
    (assets / "index-RagTOHTn.js").write_text("console.log('app')")
    (assets / "DashboardPage-CNpL_Sag.css").write_text("body{}")
    (assets / "logo.svg").write_text("<svg/>")
    settings.STATIC_ROOT = tmp_path
    settings.WHITENOISE_USE_FINDERS = False
    return tmp_path


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/strategies/12", "/trades?strategy=3", "/sign-in?next=/workers", "/no/such"])
def test_every_app_path_answers_the_built_page_without_a_sign_in(built_app: Path, path: str):
    response = Client().get(path)

    assert response.status_code == 200
    assert response.content == INDEX
    assert response["Content-Type"] == "text/html; charset=utf-8"
    # Never cached: the next visit picks up a new build (whose assets have new names).
    assert "no-store" in response["Cache-Control"] and "no-cache" in response["Cache-Control"]
    # The CSRF cookie the app sends back on its writes.
    assert response.cookies["csrftoken"].value


@pytest.mark.django_db
def test_the_page_carries_nobody_s_data(built_app: Path, alice_client, alice):
    make_strategy(alice, make_paper_account(alice), name="alice-secret-grid")

    signed_in = alice_client.get("/")
    anonymous = Client().get("/")

    assert signed_in.content == anonymous.content == INDEX
    assert b"alice" not in signed_in.content


@pytest.mark.django_db
def test_without_a_build_the_page_says_how_to_build_it(tmp_path: Path, settings):
    settings.STATIC_ROOT = tmp_path  # collected nothing
    settings.WHITENOISE_USE_FINDERS = False

    response = Client().get("/strategies")

    assert response.status_code == 200
    page = response.content.decode()
    assert "web app is not built" in page
    assert "npm ci" in page and "npm run build" in page and "collectstatic" in page
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_in_debug_the_page_comes_from_the_app_folder_where_the_build_writes(tmp_path: Path, settings):
    settings.STATIC_ROOT = tmp_path
    settings.WHITENOISE_USE_FINDERS = True
    settings.STATICFILES_DIRS = [tmp_path / "src"]
    (tmp_path / "src" / "app").mkdir(parents=True)
    (tmp_path / "src" / "app" / "index.html").write_bytes(INDEX)

    assert Client().get("/").content == INDEX


@pytest.mark.django_db
def test_hashed_assets_are_cached_forever_and_the_rest_briefly(built_app: Path):
    client = Client()  # a new client loads the middleware, which lists STATIC_ROOT's files

    hashed_js = client.get("/static/app/assets/index-RagTOHTn.js")
    hashed_css = client.get("/static/app/assets/DashboardPage-CNpL_Sag.css")
    plain = client.get("/static/app/assets/logo.svg")
    index = client.get("/static/app/index.html")

    for response in (hashed_js, hashed_css):
        assert response.status_code == 200
        assert "immutable" in response["Cache-Control"]
        assert "max-age=315360000" in response["Cache-Control"]
    for response in (plain, index):
        assert response.status_code == 200
        assert "immutable" not in response["Cache-Control"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/static/app/assets/gone-AAAAAAAA.js", "/favicon.ico", "/robots.txt", "/accounts/nope/", "/django-rq/x"]
)
def test_files_and_the_server_s_own_prefixes_are_not_the_app(built_app: Path, admin_client, path: str):
    response = admin_client.get(path)

    assert response.status_code == 404
    assert response.content != INDEX


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/nothing", "/api/strategies/1/nothing/deeper", "/api/"])
def test_unknown_api_paths_still_answer_json_404(built_app: Path, alice_client, path: str):
    response = alice_client.get(path)

    if path == "/api/":  # the browsable API root: it exists
        assert response.status_code == 200
        return
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_the_server_pages_keep_working(built_app: Path):
    client = Client()

    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/api/docs/").status_code == 200
    admin = client.get("/admin/")
    assert admin.status_code == 302 and admin["Location"].startswith("/admin/login/")
    assert client.get("/health").status_code == 200
