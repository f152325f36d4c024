import pytest

from kehu.customers import services
from kehu.customers.models import Customer


@pytest.mark.django_db
def test_rep_creates_customer_and_sees_only_own(make_user, client_for):
    rep = make_user()
    other = make_user()
    mine = services.customer_create(data={"name": "上海甲科技有限公司", "phone": "138 1234 5678"}, by=rep)
    services.customer_create(data={"name": "上海乙科技有限公司"}, by=other)
    assert mine.phone == "+8613812345678"
    page = client_for(rep).get("/customers/")
    assert page.status_code == 200
    assert "上海甲科技有限公司" in page.content.decode()
    assert "上海乙科技有限公司" not in page.content.decode()
    assert Customer.objects.count() == 2
