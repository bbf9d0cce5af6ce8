-- A duty roster for the sample property, for deploy/local/run: everyone on duty around the
-- clock, reached on the console channel (PROPDESK_CONSOLE_FILE). Written only when the property
-- has no roster yet, so a roster of your own is never touched.
INSERT INTO duty_roster (property, role, department, person, contacts)
SELECT 'sunrise-garden', r.role, r.department, r.person, r.contacts::jsonb
FROM (VALUES
    ('control_room', 'security', '中控室 值班员', '[{"channel":"console","address":"control-room"}]'),
    ('technician', 'engineering', '工程部 王师傅', '[{"channel":"console","address":"engineering"}]'),
    ('technician', 'security', '保安部 赵队长', '[{"channel":"console","address":"security"}]'),
    ('technician', 'customer_service', '客服部 李梅', '[{"channel":"console","address":"customer-service"}]'),
    ('technician', 'concierge', '礼宾部 钱', '[{"channel":"console","address":"concierge"}]'),
    ('supervisor', NULL, '客服主管 陈', '[{"channel":"console","address":"supervisor"}]'),
    ('department_manager', NULL, '管理处经理 孙', '[{"channel":"console","address":"manager"}]'),
    ('general_manager', NULL, '总经理 周', '[{"channel":"console","address":"general-manager"}]')
) AS r (role, department, person, contacts)
WHERE NOT EXISTS (SELECT 1 FROM duty_roster WHERE property = 'sunrise-garden');
