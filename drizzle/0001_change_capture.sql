-- Change capture: every committed insert, update or delete that affects a site's compiled config writes one
-- config_changes row per affected site key, whoever made it (admin API, another application, a DBA's UPDATE).
-- Cascaded foreign-key deletes do not fire triggers in MariaDB; the parent's own trigger covers them.
CREATE TRIGGER `sites_ai` AFTER INSERT ON `sites` FOR EACH ROW
  INSERT INTO `config_changes` (`site_key`, `source`) VALUES (NEW.`site_key`, 'sites');
--> statement-breakpoint
CREATE TRIGGER `sites_au` AFTER UPDATE ON `sites` FOR EACH ROW
  INSERT INTO `config_changes` (`site_key`, `source`)
  SELECT NEW.`site_key`, 'sites' UNION ALL SELECT OLD.`site_key`, 'sites' FROM DUAL WHERE OLD.`site_key` <> NEW.`site_key`;
--> statement-breakpoint
CREATE TRIGGER `sites_ad` AFTER DELETE ON `sites` FOR EACH ROW
  INSERT INTO `config_changes` (`site_key`, `source`) VALUES (OLD.`site_key`, 'sites');
--> statement-breakpoint
CREATE TRIGGER `forms_ai` AFTER INSERT ON `forms` FOR EACH ROW
  INSERT INTO `config_changes` (`site_key`, `source`) SELECT `site_key`, 'forms' FROM `sites` WHERE `id` = NEW.`site_id`;
--> statement-breakpoint
CREATE TRIGGER `forms_au` AFTER UPDATE ON `forms` FOR EACH ROW
  INSERT INTO `config_changes` (`site_key`, `source`) SELECT `site_key`, 'forms' FROM `sites` WHERE `id` IN (NEW.`site_id`, OLD.`site_id`);
--> statement-breakpoint
CREATE TRIGGER `forms_ad` AFTER DELETE ON `forms` FOR EACH ROW
  INSERT INTO `config_changes` (`site_key`, `source`) SELECT `site_key`, 'forms' FROM `sites` WHERE `id` = OLD.`site_id`;
--> statement-breakpoint
CREATE TRIGGER `fields_ai` AFTER INSERT ON `fields` FOR EACH ROW
  INSERT INTO `config_changes` (`site_key`, `source`)
  SELECT s.`site_key`, 'fields' FROM `forms` f JOIN `sites` s ON s.`id` = f.`site_id` WHERE f.`id` = NEW.`form_id`;
--> statement-breakpoint
CREATE TRIGGER `fields_au` AFTER UPDATE ON `fields` FOR EACH ROW
  INSERT INTO `config_changes` (`site_key`, `source`)
  SELECT DISTINCT s.`site_key`, 'fields' FROM `forms` f JOIN `sites` s ON s.`id` = f.`site_id` WHERE f.`id` IN (NEW.`form_id`, OLD.`form_id`);
--> statement-breakpoint
CREATE TRIGGER `fields_ad` AFTER DELETE ON `fields` FOR EACH ROW
  INSERT INTO `config_changes` (`site_key`, `source`)
  SELECT s.`site_key`, 'fields' FROM `forms` f JOIN `sites` s ON s.`id` = f.`site_id` WHERE f.`id` = OLD.`form_id`;
--> statement-breakpoint
CREATE TRIGGER `field_mappings_ai` AFTER INSERT ON `field_mappings` FOR EACH ROW
  INSERT INTO `config_changes` (`site_key`, `source`)
  SELECT s.`site_key`, 'field_mappings' FROM `fields` d JOIN `forms` f ON f.`id` = d.`form_id` JOIN `sites` s ON s.`id` = f.`site_id`
  WHERE d.`id` = NEW.`field_id`;
--> statement-breakpoint
CREATE TRIGGER `field_mappings_au` AFTER UPDATE ON `field_mappings` FOR EACH ROW
  INSERT INTO `config_changes` (`site_key`, `source`)
  SELECT DISTINCT s.`site_key`, 'field_mappings' FROM `fields` d JOIN `forms` f ON f.`id` = d.`form_id` JOIN `sites` s ON s.`id` = f.`site_id`
  WHERE d.`id` IN (NEW.`field_id`, OLD.`field_id`);
--> statement-breakpoint
CREATE TRIGGER `field_mappings_ad` AFTER DELETE ON `field_mappings` FOR EACH ROW
  INSERT INTO `config_changes` (`site_key`, `source`)
  SELECT s.`site_key`, 'field_mappings' FROM `fields` d JOIN `forms` f ON f.`id` = d.`form_id` JOIN `sites` s ON s.`id` = f.`site_id`
  WHERE d.`id` = OLD.`field_id`;
