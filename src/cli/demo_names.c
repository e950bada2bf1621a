/*
 * demo_names.c — the data tables the demo generator (demo.c) draws from: Chinese surnames
 * with their frequency (per 10,000 people, after the 2020 census ranking: 王 李 张 刘 陈 …),
 * characters for given names, the service centre's staff, and the subjects of calls,
 * emails and cases of a real-estate developer's service desk. Data only, no code.
 */
#include "cli/demo.h"

const struct demo_weighted demo_surnames[] = {
    {"王", 725}, {"李", 719}, {"张", 683}, {"刘", 538}, {"陈", 453}, {"杨", 308}, {"黄", 223},
    {"赵", 229}, {"吴", 205}, {"周", 197}, {"徐", 167}, {"孙", 154}, {"马", 145}, {"朱", 144},
    {"胡", 132}, {"郭", 130}, {"何", 117}, {"林", 113}, {"高", 116}, {"罗", 86},  {"郑", 86},
    {"梁", 85},  {"谢", 76},  {"宋", 68},  {"唐", 66},  {"许", 62},  {"韩", 61},  {"冯", 58},
    {"邓", 57},  {"曹", 56},  {"彭", 54},  {"曾", 52},  {"肖", 50},  {"田", 49},  {"董", 48},
    {"袁", 47},  {"潘", 46},  {"于", 45},  {"蒋", 44},  {"蔡", 43},  {"余", 42},  {"杜", 41},
    {"叶", 40},  {"程", 39},  {"苏", 38},  {"魏", 37},  {"吕", 36},  {"丁", 35},  {"任", 34},
    {"沈", 33},  {"姚", 32},  {"卢", 31},  {"姜", 30},  {"崔", 29},  {"钟", 28},  {"谭", 27},
    {"陆", 26},  {"汪", 25},  {"范", 24},  {"金", 23},  {"石", 22},  {"廖", 21},  {"贾", 20},
    {"夏", 19},  {"韦", 18},  {"付", 17},  {"方", 17},  {"白", 16},  {"邹", 16},  {"孟", 15},
    {"熊", 15},  {"秦", 14},  {"邱", 14},  {"江", 13},  {"尹", 13},  {"薛", 12},  {"欧阳", 4},
    {"司马", 1}, {"诸葛", 1},
};
const int demo_nsurnames = (int)ARRAY_LEN(demo_surnames);

/* Characters common in given names; a given name is one or two of them. */
const char *const demo_given_m[] = {
    "伟", "刚", "勇", "毅", "俊", "峰", "强", "军", "平", "东", "文", "辉", "力", "明", "永",
    "健", "志", "兴", "良", "海", "波", "宁", "贵", "福", "龙", "国", "胜", "学", "祥", "发",
    "新", "利", "清", "飞", "彬", "杰", "涛", "成", "康", "光", "天", "达", "安", "磊", "浩",
    "亮", "鹏", "宇", "泽", "晨", "建", "家", "德", "鑫", "博", "子", "航", "昊", "轩", "睿",
};
const int demo_ngiven_m = (int)ARRAY_LEN(demo_given_m);
const char *const demo_given_f[] = {
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "秀", "霞", "玲", "燕", "红", "梅", "琳", "雪",
    "婷", "洁", "慧", "颖", "倩", "佳", "欣", "怡", "萍", "晶", "莉", "蕾", "璐", "瑶", "琪",
    "雯", "悦", "彤", "诗", "涵", "梦", "露", "月", "清", "丹", "蓉", "妍", "晓", "雨", "馨",
};
const int demo_ngiven_f = (int)ARRAY_LEN(demo_given_f);

/*
 * 25 staff in three teams: team 0 hotline (also answers the customer mailbox), 1
 * complaints (complaints and repairs), 2 counter (the sales-office reception desks). speed
 * scales every delay they cause: 0.5 is excellent, 1 ordinary, 2 slow.
 */
const struct demo_staff demo_staff[] = {
    {"zhou.ting", "周婷", 0, true, 0.8},     {"wang.fang", "王芳", 0, false, 0.5},
    {"li.na", "李娜", 0, false, 0.9},        {"zhang.wei", "张伟", 0, false, 2.0},
    {"liu.yang", "刘洋", 0, false, 1.0},     {"chen.jing", "陈静", 0, false, 0.55},
    {"yang.fan", "杨帆", 0, false, 1.1},     {"zhao.lei", "赵磊", 0, false, 1.8},
    {"huang.li", "黄丽", 0, false, 0.9},     {"wu.min", "吴敏", 0, false, 1.0},
    {"sun.hao", "孙浩", 0, false, 1.3},      {"zheng.qiang", "郑强", 1, true, 0.9},
    {"ma.jun", "马骏", 1, false, 0.5},       {"zhu.lin", "朱琳", 1, false, 1.0},
    {"hu.bin", "胡斌", 1, false, 2.0},       {"guo.xiaoyan", "郭晓燕", 1, false, 0.8},
    {"he.peng", "何鹏", 1, false, 1.2},      {"gao.xue", "高雪", 1, false, 1.0},
    {"lin.hui", "林慧", 2, true, 0.8},       {"luo.jia", "罗佳", 2, false, 0.5},
    {"liang.chen", "梁晨", 2, false, 1.0},   {"xie.yu", "谢雨", 2, false, 2.0},
    {"song.jiayi", "宋佳怡", 2, false, 0.9}, {"tang.kai", "唐凯", 2, false, 1.1},
    {"xu.nuo", "许诺", 2, false, 1.0},
};
const int demo_nstaff = (int)ARRAY_LEN(demo_staff);

const char *const demo_team_names[3] = {"hotline", "complaints", "counter"};
const char *const demo_team_display[3] = {"客服热线组", "投诉处理组", "前台接待组"};

const struct demo_project demo_projects[2] = {
    {"滨江花园", "BJ", 12, 18, 4, 31000, 78, 142, "2024-06-30", true},
    {"云栖府", "YQ", 8, 26, 6, 46000, 96, 186, "2026-10-20", false},
};

const char *const demo_complaints[] = {
    "楼上漏水影响天花板",       "夜间施工噪音扰民",       "物业费收费标准有异议",
    "交房时间一再推迟",         "车位划线与合同不符",     "电梯频繁故障停运",
    "小区绿化维护不到位",       "门禁卡无法正常使用",     "装修垃圾长期未清运",
    "外墙渗水导致墙面发霉",     "地下车库照明不足",       "快递柜占用消防通道",
    "精装修材料与样板间不一致", "房屋实测面积与合同差异", "物业人员服务态度差",
};
const int demo_ncomplaints = (int)ARRAY_LEN(demo_complaints);

const char *const demo_repairs[] = {
    "卫生间地漏堵塞", "入户门锁损坏",   "窗户密封条老化", "厨房下水管渗漏",
    "客厅墙面开裂",   "地暖不热",       "卧室插座无电",   "阳台推拉门卡滞",
    "热水器无法点火", "空调冷凝水倒灌", "木地板起拱",     "卫生间瓷砖空鼓",
};
const int demo_nrepairs = (int)ARRAY_LEN(demo_repairs);

const char *const demo_inquiries[] = {
    "产权证办理进度", "交房流程咨询", "物业费缴纳方式", "装修备案手续",
    "车位租售政策",   "维修基金查询", "户口迁入材料",   "契税发票领取",
};
const int demo_ninquiries = (int)ARRAY_LEN(demo_inquiries);

const char *const demo_email_domains[] = {"qq.com",   "163.com",     "126.com",
                                          "sina.com", "outlook.com", "foxmail.com"};
const int demo_nemail_domains = (int)ARRAY_LEN(demo_email_domains);
