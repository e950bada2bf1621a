"""CSV import through the API (POST /api/v1/imports) and the command line (smile import
customers|properties|contracts): header mapping with Chinese names, UTF-8 with and
without BOM, GB18030, the same validation as the record API, natural-key references, dry
runs, and broken files — wrong cell count, bad quote, invalid phone, unknown header,
duplicate natural key, empty file, header only. After every refused request and every
dry run NOTHING was written (the CRM tables, the audit trail and the imports table are
counted before and after). Rows are numbered as a spreadsheet shows them (header = 1)."""
import json
import os
import subprocess
import unittest
import uuid

from harness import BIN, Server

VALID_ID = "11010519491231002X"  # check character worked out in tests/unit/test_crm.c
TABLES = ("customers", "customer_contacts", "properties", "contracts", "audit", "imports")


def multipart(fields, filename, data, ctype="text/csv"):
    b = "----smile" + uuid.uuid4().hex
    out = b""
    for k, v in fields.items():
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                % (b, k, v)).encode()
    out += ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
            "Content-Type: %s\r\n\r\n" % (b, filename, ctype)).encode("utf-8")
    out += data + ("\r\n--%s--\r\n" % b).encode()
    return out, "multipart/form-data; boundary=" + b


class ImportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.srv.add_user("ann", "agent")
        cls.srv.add_user("sue", "supervisor")
        cls.srv.add_user("ada", "admin")
        cls.agent = cls.srv.login("ann")
        cls.sup = cls.srv.login("sue")
        cls.admin = cls.srv.login("ada")
        cls.read_tok = cls.srv.client(token=cls.srv.token("ada", "crm:read"))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def counts(self):
        q = "select " + ", ".join("(select count(*) from %s) as %s" % (t, t) for t in TABLES)
        return self.srv.sql(q)[0]

    def post_csv(self, kind, data, c=None, dry=False, query=""):
        path = "/api/v1/imports?kind=%s%s%s" % (kind, "&dry_run=1" if dry else "", query)
        return (c or self.sup).req("POST", path, raw=data, headers={"Content-Type": "text/csv"})

    def refused(self, kind, data, expect, c=None, query=""):
        """Posts a file that must be refused; checks the report's problems and that nothing
        was written."""
        before = self.counts()
        r = self.post_csv(kind, data, c, query=query)
        self.assertEqual(r.status, 422, r)
        self.assertEqual(r.headers["content-type"], "application/problem+json")
        got = [(p["row"], p["column"], p["field"]) for p in r.json["problems"]]
        self.assertEqual(got, expect, json.dumps(r.json, ensure_ascii=False))
        self.assertEqual(r.json["imported"], 0)
        self.assertEqual(self.counts(), before, "a refused file wrote something")
        return r.json

    # the happy paths ---------------------------------------------------------------------
    def test_customers_chinese_headers_dry_run_then_import(self):
        # BOM, Chinese headers, two phone columns collected into phones, a tag list.
        data = ("\ufeff姓名,手机,电话,邮箱,证件号码,标签,类型\r\n"
                "王芳,138-0013-1001,(010) 1234-5678,WF@Example.com,%s,vip；业主,个人\r\n"
                "\"深圳市某某有限公司\",400-123-4567,,,,,企业\r\n" % VALID_ID).encode("utf-8")
        before = self.counts()
        body, ctype = multipart({"dry_run": "1"}, "客户.csv", data)
        r = self.sup.req("POST", "/api/v1/imports?kind=customers", raw=body,
                         headers={"Content-Type": ctype})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["rows"], r.json["valid"], r.json["imported"], r.json["dry_run"]),
                         (2, 2, 0, True))
        self.assertEqual(r.json["encoding"], "utf-8")
        self.assertEqual(r.json["problems"], [])
        self.assertEqual(self.counts(), before, "a dry run wrote something")

        body, ctype = multipart({}, "客户.csv", data)
        r = self.admin.req("POST", "/api/v1/imports?kind=customers", raw=body,
                           headers={"Content-Type": ctype})
        self.assertEqual(r.status, 201, r)
        self.assertEqual((r.json["rows"], r.json["imported"]), (2, 2))
        iid = r.json["import_id"]
        self.assertEqual(r.headers["location"], "/api/v1/imports/%d" % iid)
        rows = self.srv.sql("select name, kind, phones, emails, tags, id_number from customers "
                            "where name in ('王芳', '深圳市某某有限公司') order by id")
        # Normalised as the customer API does: +86/punctuation dropped, domain lower-cased.
        self.assertEqual(rows[0]["kind"], "person")
        self.assertEqual(json.loads(rows[0]["phones"]), ["13800131001", "01012345678"])
        self.assertEqual(json.loads(rows[0]["emails"]), ["WF@example.com"])
        self.assertEqual(json.loads(rows[0]["tags"]), ["vip", "业主"])
        self.assertEqual(rows[0]["id_number"], VALID_ID)
        self.assertEqual(rows[1]["kind"], "company")
        self.assertEqual(json.loads(rows[1]["phones"]), ["4001234567"])
        # Audited as the API audits a create; the run is recorded with the file's name.
        n = self.srv.sql("select count(*) as n from audit where entity = 'customer' and "
                         "action = 'create' and actor = 'ada'")[0]["n"]
        self.assertGreaterEqual(n, 2)
        st, _, one = self.sup.get("/api/v1/imports/%d" % iid)
        self.assertEqual(st, 200)
        self.assertEqual((one["kind"], one["file_name"], one["rows"], one["imported"],
                          one["actor"]), ("customers", "客户.csv", 2, 2, "ada"))
        self.assertEqual(one["last_id"] - one["first_id"], 1)
        st, _, page = self.sup.get("/api/v1/imports?limit=1")
        self.assertEqual(st, 200)
        self.assertEqual(page["items"][0]["id"], iid)

    def test_properties_and_contracts_by_natural_key(self):
        r = self.post_csv("customers", "name,phone\n赵六,13900139006\n".encode())
        self.assertEqual(r.status, 201, r)
        props = ("项目,楼栋,房号,面积,状态,业主电话\n"
                 "翠湖花园,3栋,1201,89.50㎡,已售,139 0013 9006\n"
                 "翠湖花园,3栋,1202,120,可售,\n").encode()
        r = self.post_csv("properties", props)
        self.assertEqual(r.status, 201, r)
        p = self.srv.sql("select p.area_m2, p.status, c.name from properties p left join "
                         "customers c on c.id = p.customer_id where p.project = '翠湖花园' "
                         "order by p.unit")
        self.assertEqual(p[0], {"area_m2": 89.5, "status": "sold", "name": "赵六"})
        self.assertEqual(p[1], {"area_m2": 120.0, "status": "available", "name": None})
        # 金额 in yuan: "¥1,234,567.89" is 123,456,789 cents; 签约日期 2026年3月5日.
        contracts = ("合同编号,客户电话,项目,楼栋,房号,签约日期,金额,状态\n"
                     "HT-2026-001,13900139006,翠湖花园,3栋,1201,2026年3月5日,\"¥1,234,567.89\","
                     "已签约\n").encode()
        r = self.post_csv("contracts", contracts)
        self.assertEqual(r.status, 201, r)
        c = self.srv.sql("select c.amount_cents, c.signed_on, c.status, p.unit, cu.name from "
                         "contracts c join properties p on p.id = c.property_id join customers "
                         "cu on cu.id = c.customer_id where c.number = 'HT-2026-001'")
        self.assertEqual(c, [{"amount_cents": 123456789, "signed_on": "2026-03-05",
                              "status": "signed", "unit": "1201", "name": "赵六"}])
        # Unknown references are problems on their own column; nothing written.
        bad = ("合同编号,客户电话,项目,楼栋,房号\n"
               "HT-2026-002,13900139999,翠湖花园,3栋,1201\n"
               "HT-2026-003,13900139006,翠湖花园,9栋,0101\n"
               "HT-2026-001,13900139006,,,\n").encode()
        # row 2: no customer has that phone (column B); row 3: no such property (E, the
        # unit column); row 4: the number is taken (column A, from the contract check).
        self.refused("contracts", bad, [(2, "B", "customer_phone"), (3, "E", "property_unit"),
                                        (4, "A", "number")])

    def test_gb18030_file(self):
        data = "姓名,手机,地址\n钱七,13700137007,北京市朝阳区\n".encode("gb18030")
        before = self.counts()
        r = self.post_csv("customers", data, dry=True)  # auto: not UTF-8, so GB18030
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["encoding"], "gb18030")
        self.assertEqual(self.counts(), before)
        r = self.post_csv("customers", data, query="&encoding=gb18030")
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.srv.sql("select address from customers where name = '钱七'"),
                         [{"address": "北京市朝阳区"}])
        # Read as UTF-8 it is refused at the cells that are not UTF-8 (A and C of row 2;
        # the header is not UTF-8 either: all three headers are problems).
        r = self.post_csv("customers", data, query="&encoding=utf-8")
        self.assertEqual(r.status, 422, r)

    # broken files --------------------------------------------------------------------------
    def test_wrong_cell_count(self):
        self.refused("customers", "name,phone\n甲,13800138101\n乙,13800138102,extra\n丙\n".encode(),
                     [(3, None, None), (4, None, None)])

    def test_bad_quote(self):
        # Row 3 has a quote inside an unquoted cell: strict CSV refuses it, and reading
        # stops there (the rows after it cannot be trusted).
        self.refused("customers", 'name,phone\n甲,13800138201\n"乙"x,13800138202\n'.encode(),
                     [(3, None, None)])

    def test_unclosed_quote(self):
        self.refused("customers", 'name,phone\n甲,"13800138301\n'.encode(), [(2, None, None)])

    def test_invalid_phone_and_id(self):
        # 12345 is no Chinese number; the ID's check character should be X (GB 11643).
        j = self.refused("customers",
                         ("姓名,手机,身份证号\n甲,12345,\n乙,13800138401,%s\n"
                          % (VALID_ID[:-1] + "1")).encode(),
                         [(2, "B", "phones"), (3, "C", "id_number")])
        self.assertEqual(j["problems"][0]["header"], "手机")

    def test_unknown_header(self):
        self.refused("customers", "name,favourite colour\n甲,red\n".encode(), [(1, "B", None)])

    def test_missing_required_column(self):
        self.refused("customers", "phone\n13800138501\n".encode(), [(1, None, "name")])

    def test_duplicate_natural_key(self):
        # Row 3 repeats row 2's mobile in another spelling: one customer per phone.
        j = self.refused("customers",
                         "name,phone\n甲,13800138601\n乙,+86 138 0013 8601\n".encode(),
                         [(3, "B", "phones")])
        self.assertIn("row 2 of this file", j["problems"][0]["detail"])
        # Properties: project + building + unit twice.
        self.refused("properties", "project,building,unit\n绿城,1,101\n绿城,1,101\n".encode(),
                     [(3, "C", "unit")])

    def test_bad_values(self):
        self.refused("contracts",
                     ("number,customer_phone,signed_on,amount,status\n"
                      "X1,13800138701,2026-02-30,12.345,signed\n").encode(),
                     [(2, "C", "signed_on"), (2, "D", "amount")])

    def test_empty_file_and_header_only(self):
        self.refused("customers", b"", [(1, None, None)])
        self.refused("customers", "\ufeffname,phone\r\n".encode(), [(2, None, None)])

    def test_same_field_twice_and_templates(self):
        # amount (yuan) and amount_cents both set amount_cents: refused on the second (B).
        self.refused("contracts", "number,amount,amount_cents,customer_id\nX9,1,100,1\n".encode(),
                     [(1, "C", "amount_cents")])
        for kind, zh_first in (("customers", "类型"), ("properties", "项目"),
                               ("contracts", "合同编号")):
            r = self.sup.get("/api/v1/imports/templates/%s?lang=zh" % kind)
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.headers["content-type"].startswith("text/csv"))
            self.assertIn('filename="%s-zh.csv"' % kind, r.headers["content-disposition"])
            # The BOM, then the first column's Chinese header.
            self.assertTrue(r.raw.startswith("\ufeff" + zh_first + ","), r.raw[:40])
            # A template's header maps back without a problem: a dry run of it alone is
            # refused only for having no rows (row 2, no column).
            for lang in ("zh", "en"):
                t = self.sup.get("/api/v1/imports/templates/%s?lang=%s" % (kind, lang)).raw
                r = self.post_csv(kind, t.encode(), dry=True)
                self.assertEqual(r.status, 422, r)
                self.assertEqual([(p["row"], p["column"]) for p in r.json["problems"]],
                                 [(2, None)])
        self.assertEqual(self.sup.get("/api/v1/imports/templates/widgets").status, 404)
        self.assertEqual(self.sup.get("/api/v1/imports/templates/customers?lang=fr").status, 422)
        self.assertEqual(self.agent.get("/api/v1/imports/templates/customers").status, 403)
        p = subprocess.run([BIN, "import", "properties", "--template"], capture_output=True)
        self.assertEqual(p.stdout, b"project,building,unit,area,status,customer_id,"
                                   b"customer_phone,notes\r\n")

    def test_update_mode(self):
        r = self.post_csv("customers", "姓名,手机,标签\n吴一,13500135001,a\n郑二,13500135002,\n".encode())
        self.assertEqual(r.status, 201, r)
        ids = {x["name"]: x["id"] for x in self.srv.sql(
            "select id, name from customers where name in ('吴一', '郑二')")}
        # Without --update the same phones are duplicates; with it row 2 updates 吴一 (new
        # address, tags replaced), row 3 creates 冯三.
        data = "手机,地址,标签,姓名\n13500135001,上海市,b;c,吴一\n13500135003,,,冯三\n".encode()
        before = self.counts()
        r = self.post_csv("customers", data)
        self.assertEqual(r.status, 422)
        self.assertEqual(self.counts(), before)
        r = self.post_csv("customers", data, query="&update=1")
        self.assertEqual(r.status, 201, r)
        self.assertEqual((r.json["imported"], r.json["created"], r.json["updated"]), (2, 1, 1))
        row = self.srv.sql("select address, tags, version from customers where id = %d"
                           % ids["吴一"])[0]
        self.assertEqual((row["address"], json.loads(row["tags"]), row["version"]),
                         ("上海市", ["b", "c"], 2))
        n = self.srv.sql("select count(*) as n from audit where entity = 'customer' and "
                         "action = 'update' and entity_id = %d" % ids["吴一"])[0]["n"]
        self.assertEqual(n, 1)
        st, _, one = self.sup.get("/api/v1/imports/%d" % r.json["import_id"])
        self.assertEqual((one["imported"], one["updated"]), (2, 1))
        # Two rows naming one customer, and a row whose phones belong to two customers.
        j = self.refused("customers", "手机,姓名\n13500135001,吴一\n135 0013 5001,吴一\n".encode(),
                         [(3, "A", "phones")], query="&update=1")
        self.assertIn("row 2 of this file", j["problems"][0]["detail"])
        self.refused("customers", "手机,姓名\n13500135001/13500135002,谁\n".encode(),
                     [(2, "A", "phones")], query="&update=1")
        # Contracts by number, properties by project + building + unit.
        r = self.post_csv("properties", "项目,楼栋,房号,状态\n星河湾,2,301,可售\n".encode())
        self.assertEqual(r.status, 201, r)
        r = self.post_csv("properties", "项目,楼栋,房号,状态\n星河湾,2,301,已售\n".encode(),
                          query="&update=1")
        self.assertEqual((r.status, r.json["updated"]), (201, 1))
        self.assertEqual(self.srv.sql("select status from properties where project = '星河湾'"),
                         [{"status": "sold"}])

    # request errors ------------------------------------------------------------------------
    def test_request_errors_write_nothing(self):
        before = self.counts()
        ok = "name\n甲\n".encode()
        r = self.post_csv("buildings", ok)
        self.assertEqual(r.status, 422)
        self.assertEqual([e["pointer"] for e in r.json["errors"]], ["/query/kind"])
        r = self.post_csv("customers", ok, query="&encoding=latin1")
        self.assertEqual(r.status, 422)
        r = self.sup.req("POST", "/api/v1/imports?kind=customers", raw=b'{"name": "x"}',
                         headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400)
        r = self.sup.req("POST", "/api/v1/imports?kind=customers", raw=b"--x\r\nbroken",
                         headers={"Content-Type": "multipart/form-data; boundary=x"})
        self.assertEqual(r.status, 400)
        body, ctype = multipart({"kind": "customers"}, "a.csv", ok)
        body = body.replace(b'name="file"', b'name="other"').replace(b'; filename="a.csv"', b"")
        r = self.sup.req("POST", "/api/v1/imports", raw=body, headers={"Content-Type": ctype})
        self.assertEqual(r.status, 422)
        self.assertEqual([e["pointer"] for e in r.json["errors"]], ["/body/file"])
        self.assertEqual(self.post_csv("customers", ok, c=self.agent).status, 403)
        self.assertEqual(self.post_csv("customers", ok, c=self.read_tok).status, 403)
        self.assertEqual(self.post_csv("customers", ok, c=self.srv.client()).status, 401)
        self.assertEqual(self.agent.get("/api/v1/imports").status, 403)
        self.assertEqual(self.sup.get("/api/v1/imports/999999").status, 404)
        self.assertEqual(self.counts(), before)

    # the command line ----------------------------------------------------------------------
    def test_cli(self):
        d = self.srv.dir
        good = os.path.join(d, "good.csv")
        bad = os.path.join(d, "bad.csv")
        with open(good, "wb") as f:
            f.write("姓名,手机\n孙八,13600136008\n".encode("gb18030"))
        with open(bad, "wb") as f:
            f.write("姓名,手机\n周九,136\n".encode())
        before = self.counts()
        p = subprocess.run([BIN, "import", "customers", bad, "--db", self.srv.db],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("row 2, column B (手机) phones:", p.stdout)
        self.assertIn("nothing was imported", p.stdout)
        p = subprocess.run([BIN, "import", "customers", good, "--dry-run", "--json",
                            "--db", self.srv.db], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p)
        rep = json.loads(p.stdout)
        self.assertEqual((rep["rows"], rep["valid"], rep["imported"], rep["encoding"]),
                         (1, 1, 0, "gb18030"))
        self.assertEqual(self.counts(), before)
        p = subprocess.run([BIN, "import", "customers", good, "--db", self.srv.db],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p)
        self.assertIn("imported 1 customers", p.stdout)
        self.assertEqual(self.srv.sql("select actor from imports order by id desc limit 1"),
                         [{"actor": "cli"}])
        p = subprocess.run([BIN, "import", "widgets", good, "--db", self.srv.db],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    unittest.main()
