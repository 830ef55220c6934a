"""The structhash dump reproduced by the hub, against the library's own example vectors."""

import hashlib

from hub.structhash import NIL_STRUCT_PTR, GoStruct, device_uid, dump


def test_structhash_dump_matches_library_examples():
    # cnf/structhash structhash_examples_test.go, ExampleDump (version 1).
    bill = GoStruct({"Name": "Bill", "Age": 24, "Emails": ["bob@foo.org", "bob@bar.org"],
                     "Extra": {"facebook": "Bob42"}, "Spouse": NIL_STRUCT_PTR})
    bob = GoStruct({"Name": "Bob", "Age": 42, "Emails": ["bob@foo.org", "bob@bar.org"],
                    "Extra": {"facebook": "Bob42"}, "Spouse": bill})
    d = dump(bob)
    assert hashlib.md5(d).hexdigest() == "6a50d73f3bd0b9ebd001a0b610f387f0"
    assert hashlib.sha1(d).hexdigest() == "c45f097a37366eaaf6ffbc7357c2272cd8fb64f6"
    assert hashlib.sha256(d).hexdigest() == \
        "fffabfc403a7719974d60c40471374fc46c60d2f7a654a35868752cad92a4e87"


def test_device_uid_is_sha256_of_dump():
    mac, pem, tenant = "02:00:00:00:00:01", "-----BEGIN RSA PUBLIC KEY-----\nAA==\n", "t"
    d = ('{Identity:{MAC:"' + mac + '"},PublicKey:"' + pem + '",TenantID:"t"}').encode()
    assert device_uid(mac, pem, tenant) == hashlib.sha256(d).hexdigest()
