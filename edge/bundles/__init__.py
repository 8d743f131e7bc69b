"""Model bundles: a set of models with their manifest, installed atomically with the previous one kept.

A bundle is a directory or a .tar/.tar.gz holding manifest.json (edge/manifest.py's format plus a
top-level "version" and a "selftest" section, docs/fleet.md) and the files it lists. On disk, next to
models.dir (say /var/lib/fer-edge/models):

    models           -> models-bundles/<version>-<manifest sha256[:12]>   the link the daemon reads
    models.previous  -> models-bundles/<the one before>
    models-bundles/     installed bundles; only the current and the previous one are kept

Installing copies or extracts the bundle into a staging folder on the same filesystem, checks the
manifest's shape and every sha256, loads every model with edge's own classes and self-tests the
configured pair on the bundle's own faces and frame. Only then is it renamed into place and the link
swapped with os.replace: a reader sees the old bundle or the new one, never a mix. Nothing is switched
when a step fails. The running daemon follows the link (edge/bundles/watch.py), loads and self-tests the
bundle again, and switches the link back if it fails there.

Three modules, one question each: `verify` (is this bundle good?), `store` (where do bundles live and how
are they swapped?), `watch` (the running daemon follows the swap); `cli` is `python -m edge update-models`.
"""
