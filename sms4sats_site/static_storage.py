"""Static files under content-hashed names, so browsers may keep them for a year.

``collectstatic`` (the Docker image runs it) writes each file also under a name with a hash of its content
(shop.3f2a….css), gzip-compressed next to it, and a manifest; ``{% static %}`` then links the hashed name, and
whitenoise serves hashed names with ``Cache-Control: max-age=315360000, public, immutable``: a changed file gets
a new name, so a long cache is never stale. Without a collected manifest (``make run`` from a fresh checkout, the
tests) a file keeps its plain name and is served from the apps' folders with whitenoise's short max-age.
"""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class ShopStaticStorage(CompressedManifestStaticFilesStorage):
    def stored_name(self, name):
        if self.hashed_files.get(self.hash_key(self.clean_name(name))) is None:
            return name  # not collected (yet): the plain name, which whitenoise serves from the finders
        return super().stored_name(name)
