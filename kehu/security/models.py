"""Staff sign-in security (docs/security.md): two-factor devices and recovery codes, the roles that must use
two-factor sign-in, the sign-in history, the devices a user signed in from, and the open sessions of each user
(so that "sign out everywhere" can end them with any session engine)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TOTPDevice(models.Model):
    """A user's authenticator app (RFC 6238). Not in force until `confirmed_at` (the first right code)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device", verbose_name=_("user")
    )
    secret = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(_("turned on at"), null=True, blank=True)
    # the last time step a code was accepted for: a code is good once (no replay within its 90 s window)
    last_step = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("two-factor device")

    def __str__(self) -> str:
        return f"TOTP {self.user_id}"

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


class RecoveryCode(models.Model):
    """One-time codes for when the phone is lost; only a hash is kept (shown once, at creation)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("recovery code")

    def __str__(self) -> str:
        return f"recovery code {self.pk}"


class RolePolicy(models.Model):
    """Per-role sign-in rules: users holding a role with `require_totp` must turn on two-factor sign-in before
    they can use anything else."""

    role = models.OneToOneField(
        "core.Role", on_delete=models.CASCADE, related_name="security_policy", verbose_name=_("role")
    )
    require_totp = models.BooleanField(_("two-factor sign-in required"), default=False)

    class Meta:
        verbose_name = _("role sign-in policy")

    def __str__(self) -> str:
        return f"policy of role {self.role_id}"


class LoginResult(models.TextChoices):
    SUCCESS = "success", _("signed in")
    BAD_PASSWORD = "password", _("wrong user name or password")
    BAD_CODE = "code", _("wrong two-factor code")
    LOCKED = "locked", _("blocked: too many failures")
    RECOVERY = "recovery", _("signed in with a recovery code")


class LoginEvent(models.Model):
    """One sign-in attempt of a staff user: when, from where, with what, and how it ended."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="login_events",
        verbose_name=_("user"),
    )
    username = models.CharField(_("user name"), max_length=150, blank=True)
    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    ip_address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    result = models.CharField(_("result"), max_length=10, choices=LoginResult.choices)
    new_device = models.BooleanField(_("new device"), default=False)

    class Meta:
        verbose_name = _("sign-in")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user", "-at"], name="security_login_user_at")]

    def __str__(self) -> str:
        return f"{self.username} {self.result} {self.at:%Y-%m-%d %H:%M}"

    @property
    def success(self) -> bool:
        return self.result in (LoginResult.SUCCESS, LoginResult.RECOVERY)


class KnownDevice(models.Model):
    """A browser a user signed in from, recognised by a random key in a long-lived cookie (only its hash is
    kept). A sign-in from a browser without a known key is a sign-in from a new device."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="known_devices")
    key_hash = models.CharField(max_length=64)
    user_agent = models.CharField(max_length=300, blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    last_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key_hash"], name="security_device_unique")]

    def __str__(self) -> str:
        return f"device {self.pk} of {self.user_id}"


class UserSession(models.Model):
    """A session a user signed in with (its key in the session store), so that all of them can be ended."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="open_sessions")
    session_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"session of {self.user_id}"
