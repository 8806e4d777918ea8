from django.conf import settings


def shop(request):
    return {"SANDBOX": settings.SANDBOX}
