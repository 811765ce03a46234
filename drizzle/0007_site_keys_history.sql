-- Site keys are lower-case everywhere (MariaDB compares them case-insensitively, KV does not), and every key ever
-- issued is kept in site_keys: a key belongs to one site forever, and a retired key is never issued again.
UPDATE `sites` SET `site_key` = LOWER(`site_key`) WHERE `site_key` <> BINARY LOWER(`site_key`);
--> statement-breakpoint
INSERT IGNORE INTO `site_keys` (`site_key`, `site_id`) SELECT `site_key`, `id` FROM `sites`;
--> statement-breakpoint
CREATE TRIGGER `sites_key_bi` BEFORE INSERT ON `sites` FOR EACH ROW SET NEW.`site_key` = LOWER(NEW.`site_key`);
--> statement-breakpoint
CREATE TRIGGER `sites_key_bu` BEFORE UPDATE ON `sites` FOR EACH ROW SET NEW.`site_key` = LOWER(NEW.`site_key`);
--> statement-breakpoint
-- a key issued before (to this site or any other) fails here with a duplicate key on site_keys
CREATE TRIGGER `sites_key_ai` AFTER INSERT ON `sites` FOR EACH ROW
  INSERT INTO `site_keys` (`site_key`, `site_id`) VALUES (NEW.`site_key`, NEW.`id`);
--> statement-breakpoint
CREATE TRIGGER `sites_key_au` AFTER UPDATE ON `sites` FOR EACH ROW
BEGIN
  IF OLD.`site_key` <> BINARY NEW.`site_key` THEN
    UPDATE `site_keys` SET `retired_at` = CURRENT_TIMESTAMP(3) WHERE `site_key` = OLD.`site_key`;
    INSERT INTO `site_keys` (`site_key`, `site_id`) VALUES (NEW.`site_key`, NEW.`id`);
  END IF;
END;
--> statement-breakpoint
CREATE TRIGGER `sites_key_ad` AFTER DELETE ON `sites` FOR EACH ROW
  UPDATE `site_keys` SET `retired_at` = CURRENT_TIMESTAMP(3) WHERE `site_key` = OLD.`site_key`;
