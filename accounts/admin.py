"""Admin for the email-based User (no username, first or last name)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import User


def _unique_email(form: forms.ModelForm) -> str:
    """Store emails in lower case, as registration does, so logins match."""
    email = form.cleaned_data["email"].strip().lower()
    if User.objects.filter(email=email).exclude(pk=form.instance.pk).exists():
        raise forms.ValidationError(form.instance.unique_error_message(User, ["email"]))
    return email


class UserCreationForm(auth_forms.AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)

    def clean_email(self) -> str:
        return _unique_email(self)


class UserChangeForm(auth_forms.UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self) -> str:
        return _unique_email(self)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "is_system", "groups")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "usable_password", "password1", "password2")}),)
    # The fee account is created by code; flipping is_system by hand would let it log in or
    # lock a trader out.
    readonly_fields = ("is_system", "last_login", "date_joined")
    list_display = ("email", "is_active", "is_staff", "is_system", "date_joined", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser", "is_system", "groups")
    search_fields = ("email",)
    ordering = ("email",)
    filter_horizontal = ("groups",)
    show_full_result_count = False
