"""Questions over the five seed reports that the readers' tests share."""

UNIT = "bo-tttt"

# (question, the fact the answer must state, the seed report that holds it)
QUESTIONS = [
    ("Trợ lý ảo phải trả lời được bao nhiêu phần trăm câu hỏi?", "90%", "001"),
    ("Bao nhiêu đơn vị thuộc Bộ TT&TT phải xây dựng trợ lý ảo?", "34", "001"),
    ("Từ ngày nào sẽ tắt sóng 2G?", "15/9/2024", "001"),
    ("Bộ sẽ đấu giá băng tần nào?", "3800-3900 MHz", "001"),
    ("Hội nghị sơ kết 6 tháng đầu năm 2021 được tổ chức trực tuyến tới bao nhiêu điểm cầu?", "88", "004"),
    ("Đến hết ngày 30/6 có bao nhiêu smartphone cài ứng dụng Bluezone?", "21 triệu", "004"),
    ("Lĩnh vực bưu chính 6 tháng đầu năm 2021 có tốc độ tăng trưởng bao nhiêu?", "23%", "004"),
    ("Chủ tịch UBND tỉnh Đồng Tháp là ai?", "Phạm Thiện Nghĩa", "004"),
    ("Tấn công mạng tháng 7/2023 là bao nhiêu cuộc?", "836", "003"),
    ("Google đã gỡ bao nhiêu video vi phạm trên Youtube?", "1.052", "003"),
    ("Tỷ lệ hộ gia đình sử dụng cáp quang là bao nhiêu?", "78%", "003"),
    ("Báo cáo đột xuất không vượt quá bao nhiêu phần trăm báo cáo định kỳ?", "10%", "003"),
    ("Vụ Pháp chế đã rà soát bao nhiêu văn bản?", "179", "003"),
    ("Ai là Giám đốc Trung tâm chứng thực điện tử quốc gia?", "Tô Thị Thu Hương", "003"),
    ("Có khoảng bao nhiêu doanh nghiệp bưu chính đang hoạt động?", "800", "000"),
    ("Từ ngày nào doanh nghiệp viễn thông phải chịu trách nhiệm toàn bộ nếu phát hiện SIM rác?", "15/4/2024", "000"),
    ("Ba nhà mạng lớn cần cân nhắc tham gia đấu thầu tần số nào?", "700 MHz", "000"),
    # Asked with the other tone placement ("hoá"); the report writes "hóa".
    ("Năm nào là năm thương mại hoá 5G trên phạm vi toàn quốc?", "2024", "000"),
    ("Thứ hạng chính phủ điện tử của Việt Nam phải tăng ít nhất bao nhiêu hạng?", "10 hạng", "002"),
]

OFF_TOPIC = [
    "Giá vé máy bay từ Hà Nội đi Paris là bao nhiêu?",
    "Công thức nấu phở bò gồm những gì?",
    "Dân số của Nhật Bản là bao nhiêu?",
]
