"""Storage contract, continued: deleting while listing, on every backend.

The reconciler lists a folder lazily while it deletes the files of removed photos
(and the disk backend tidies up the folders they leave empty).  A listing must carry on
past what vanished under it (S3 may still name keys of a page it already fetched; the
disk backend skips them), and deleting what is already gone is fine.
"""
from tests.contract.test_storage_contract import storage  # noqa: F401  (the fixture, every backend)
from tests.support import images


def test_a_listing_skips_keys_deleted_while_it_runs(storage):  # noqa: F811
    data = images.jpeg()
    keys = ["thumbnails/u/f/%d.jpg/thumb.jpg" % n for n in range(6)] + ["thumbnails/u/g/z.jpg/thumb.jpg"]
    for key in keys:
        storage.write(key, data)
    listing = storage.list("thumbnails/")
    first = next(listing)
    assert first.key == keys[0]
    for key in keys[1:5]:          # the rest of folder f (and its now empty sub-folders) go away
        storage.delete(key)
    rest = [o.key for o in listing]
    assert rest[-2:] == [keys[5], keys[6]] and set(rest) <= set(keys[1:])


def test_deleting_a_whole_folder_while_listing_it_ends_the_listing_cleanly(storage):  # noqa: F811
    data = images.jpeg()
    keys = ["thumbnails/u/a/%d.jpg/thumb.jpg" % n for n in range(3)]
    for key in keys:
        storage.write(key, data)
    listing = storage.list("thumbnails/u/")
    assert next(listing).key == keys[0]
    for key in keys:
        storage.delete(key)
        storage.delete(key)        # twice: deleting what is gone is fine
    assert set(o.key for o in listing) <= set(keys[1:])
