-- A site's server secret keys are part of its compiled config (as hashes): record their changes for the sync.
CREATE TRIGGER `site_secrets_ai` AFTER INSERT ON `site_secrets` FOR EACH ROW
  INSERT INTO `config_changes` (`site_key`, `source`) SELECT `site_key`, 'site_secrets' FROM `sites` WHERE `id` = NEW.`site_id`;
--> statement-breakpoint
CREATE TRIGGER `site_secrets_au` AFTER UPDATE ON `site_secrets` FOR EACH ROW
  INSERT INTO `config_changes` (`site_key`, `source`) SELECT `site_key`, 'site_secrets' FROM `sites` WHERE `id` = NEW.`site_id`;
--> statement-breakpoint
CREATE TRIGGER `site_secrets_ad` AFTER DELETE ON `site_secrets` FOR EACH ROW
  INSERT INTO `config_changes` (`site_key`, `source`) SELECT `site_key`, 'site_secrets' FROM `sites` WHERE `id` = OLD.`site_id`;
