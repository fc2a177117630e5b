from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Exchange accounts and API tokens"

    def ready(self) -> None:
        from allauth.mfa.signals import authentication_failed

        from accounts import schema  # noqa: F401  registers the OpenAPI description of token auth
        from accounts.login_limits import count_wrong_code

        authentication_failed.connect(count_wrong_code, dispatch_uid="accounts.count_wrong_code")
