from django.urls import path

from . import views

urlpatterns = [
    path("", views.dataset, name="dataset"),
    path("accounts/signup/", views.signup, name="signup"),
]
