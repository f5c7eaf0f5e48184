"""AMI parsing against a recorded PJSIPShowContacts transcript."""

from __future__ import annotations

from ari_app.pbx_admin import parse_contacts

TRANSCRIPT = [
    {"Response": "Success", "EventList": "start", "Message": "A listing of Contacts follows"},
    {"Event": "ContactList", "ObjectType": "contact",
     "ObjectName": "1002;@f0aa3515a4cb27a78011fa5b5fa2bffd", "ViaAddr": "127.0.0.1",
     "Endpoint": "1002", "Uri": "sip:1002@127.0.0.1:6002", "QualifyFrequency": "15",
     "UserAgent": "dialcrm-test-phone", "Status": "Reachable", "RoundtripUsec": "1520"},
    {"Event": "ContactList", "Endpoint": "", "Uri": "sip:127.0.0.1:5070",
     "Status": "NonQualified", "RoundtripUsec": "N/A", "UserAgent": ""},
    {"Event": "ContactListComplete", "EventList": "Complete", "ListItems": "2"},
]


def test_given_contacts_transcript_when_parsed_then_typed_contacts() -> None:
    contacts = parse_contacts(TRANSCRIPT)
    assert [c.endpoint for c in contacts] == ["", "1002"]
    phone = contacts[1]
    assert phone.status == "Reachable" and phone.rtt_ms == 1.52
    assert phone.user_agent == "dialcrm-test-phone"
    assert contacts[0].rtt_ms is None
