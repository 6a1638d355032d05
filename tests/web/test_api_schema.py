"""The OpenAPI schema is valid and complete, and the interactive docs are served from this site."""

from __future__ import annotations

import pytest
import yaml
from django.contrib.staticfiles import finders
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db


def test_schema_is_valid_openapi_without_warnings(client):
    GENERATOR_STATS.reset()
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    validate_schema(schema)
    assert not GENERATOR_STATS, "drf-spectacular warned while generating the schema"
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert {"/api/trailers/", "/api/trailers/{id}/", "/api/trailers/{id}/rating/", "/api/runs/", "/api/runs/{id}/",
            "/api/runs/{id}/cancel/", "/api/model-versions/", "/api/model-versions/{id}/",
            "/api/model-versions/{id}/activate/", "/api/predictions/", "/api/token/"} <= set(paths)
    assert set(paths["/api/trailers/{id}/rating/"]) >= {"put", "delete"}
    assert "multipart/form-data" in paths["/api/trailers/"]["post"]["requestBody"]["content"]
    # A body no one can read is refused (trailers/bodies.py): where a body is taken, that is documented too.
    for path, method in (("/api/token/", "post"), ("/api/trailers/{id}/rating/", "put"), ("/api/runs/", "post")):
        assert {"400", "413", "415"} <= set(paths[path][method]["responses"]), (path, method)
    assert "413" not in paths["/api/trailers/"]["get"]["responses"]
    assert {p["name"] for p in paths["/api/trailers/"]["get"]["parameters"]} >= {"status", "rated", "predicted", "q",
                                                                                  "sort", "page"}
    assert {p["name"] for p in paths["/api/predictions/"]["get"]["parameters"]} >= {"version", "trailer"}
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])
    components = schema["components"]["schemas"]
    # Each status points at its own choices.
    assert components["TrailerDetail"]["properties"]["status"]["allOf"] == [
        {"$ref": "#/components/schemas/TrailerStatusEnum"}]
    # The bodies that refuse fields they do not take say so; the others (responses) say nothing of extras.
    refusing = {name for name, component in components.items() if component.get("additionalProperties") is False}
    assert refusing == {"ActivationRequest", "RollbackRequest", "ModelOptions", "PatchedRunNote", "PatchedTrailerRename", "Rating", "RaterExclusionRequest",
                        "TokenRequest", "TrailerUpload", "TrainOptions", "TrainingRunCreate"}
    # A bound an option does not include is exclusive in the schema too; a token needs no token to ask for it.
    assert components["TrainOptions"]["properties"]["lr"].items() >= {"minimum": 0.0, "exclusiveMinimum": True}.items()
    assert components["ModelOptions"]["properties"]["dropout"].items() >= {"maximum": 1.0,
                                                                          "exclusiveMaximum": True}.items()
    assert "exclusiveMinimum" not in components["TrainOptions"]["properties"]["weight_decay"]
    assert paths["/api/token/"]["post"]["security"] == [{}]
    # What a component or operation says is for clients: no developer's note on how the code refuses fields, and no
    # one operation's words on every other of its viewset.
    assert not [name for name, component in components.items() if "HINTS" in component.get("description", "")]
    assert "Trailers with their numbers" not in str(paths["/api/trailers/{id}/rating/"])
    assert components["PatchedTrailerRename"]["required"] == ["title"]  # a PATCH without it is refused


def test_docs_page(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html.lower() and 'src="/api/docs/?script=' in html  # no inline script (the CSP)
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200 and "/api/schema/" in script.content.decode()


def test_docs_assets_come_from_this_site_not_a_cdn(client):
    html = client.get("/api/docs/").content.decode()
    assert "cdn.jsdelivr.net" not in html, "Swagger UI is loaded from a CDN; use drf-spectacular-sidecar"
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
