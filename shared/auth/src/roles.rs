//! Roles carried in tokens, the permissions each grants, and the verified [`Caller`].
//! `docs/roles.md` lists the same table together with the route → permission mapping.

use crate::AuthError;

vwc_contracts::wire_enum! {
    pub enum Role {
        Owner,
        FleetManager,
        Technician,
        Viewer,
    }
}

vwc_contracts::wire_enum! {
    pub enum Permission {
        /// Every `GET` under `/v1/vehicles` (list, vehicle, overview, events, maintenance, valuations).
        ReadVehicles,
        RegisterVehicles,
        /// Record an event of any kind.
        RecordAnyEvent,
        /// Record only `maintenance`, `repair` and `odometer_reading` events.
        RecordServiceEvent,
        /// Register dealer integrations and rotate their secrets.
        ManageDealers,
        ConfigureMaintenance,
        RunSweep,
        ReadNotifications,
        ConfigureNotifications,
        ReadFleet,
        Chat,
        /// Change a vehicle's details, sell it, archive it (`PATCH /v1/vehicles/{id}`, `…/sell`, `…/archive`).
        ManageVehicles,
        /// Correct or void a record a dealer sent (on top of the permission for the record's kind).
        CorrectDealerRecords,
    }
}

/// Event kinds a technician may record.
const SERVICE_EVENT_KINDS: [&str; 3] = ["maintenance", "repair", "odometer_reading"];

impl Permission {
    /// The permission `POST /v1/vehicles/{id}/events` needs for an event of `kind`.
    pub fn for_event_kind(kind: &str) -> Permission {
        if SERVICE_EVENT_KINDS.contains(&kind) {
            Permission::RecordServiceEvent
        } else {
            Permission::RecordAnyEvent
        }
    }
}

/// What a role may do. Permissions are only ever granted, never subtracted, so a caller with several roles
/// may do whatever any of them may.
pub fn role_permissions(role: Role) -> &'static [Permission] {
    use Permission::*;
    match role {
        Role::Owner => &[
            ReadVehicles,
            RegisterVehicles,
            RecordAnyEvent,
            RecordServiceEvent,
            ConfigureMaintenance,
            ReadNotifications,
            ConfigureNotifications,
            ReadFleet,
            Chat,
            ManageVehicles,
        ],
        // The fleet manager may do everything.
        Role::FleetManager => Permission::ALL,
        Role::Technician => &[
            ReadVehicles,
            RecordServiceEvent,
            ReadNotifications,
            ReadFleet,
            Chat,
        ],
        Role::Viewer => &[ReadVehicles, ReadNotifications, ReadFleet, Chat],
    }
}

/// A verified caller. `org` comes from the token only and scopes every read and write; a resource of
/// another organisation must answer 404, a missing permission within the organisation 403.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub sub: String,
    pub org: String,
    /// Non-empty, without duplicates.
    pub roles: Vec<Role>,
}

impl Caller {
    pub fn can(&self, permission: Permission) -> bool {
        self.roles
            .iter()
            .any(|role| role_permissions(*role).contains(&permission))
    }

    /// `Ok` when the caller holds `permission`, else [`AuthError::Forbidden`] (403).
    pub fn require(&self, permission: Permission) -> Result<(), AuthError> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(AuthError::Forbidden(permission))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(roles: &[Role]) -> Caller {
        Caller {
            sub: "usr_1".into(),
            org: "org_1".into(),
            roles: roles.to_vec(),
        }
    }

    #[test]
    fn role_names_round_trip_through_parse_and_serde() {
        for &role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
        }
        assert_eq!(Role::parse("admin"), None);
        assert_eq!(Role::parse("FleetManager"), None);
    }

    #[test]
    fn fleet_manager_holds_every_permission() {
        for &permission in Permission::ALL {
            assert!(
                caller(&[Role::FleetManager]).can(permission),
                "{permission}"
            );
        }
    }

    #[test]
    fn only_fleet_managers_manage_dealers_and_run_the_sweep() {
        for role in [Role::Owner, Role::Technician, Role::Viewer] {
            assert!(!caller(&[role]).can(Permission::ManageDealers), "{role}");
            assert!(!caller(&[role]).can(Permission::RunSweep), "{role}");
        }
    }

    #[test]
    fn every_role_may_read_and_chat() {
        for &role in Role::ALL {
            for permission in [
                Permission::ReadVehicles,
                Permission::ReadNotifications,
                Permission::ReadFleet,
                Permission::Chat,
            ] {
                assert!(caller(&[role]).can(permission), "{role} {permission}");
            }
        }
    }

    #[test]
    fn technician_records_service_events_but_not_other_kinds() {
        let technician = caller(&[Role::Technician]);
        for kind in ["maintenance", "repair", "odometer_reading"] {
            assert!(technician.can(Permission::for_event_kind(kind)), "{kind}");
        }
        for kind in [
            "acquisition",
            "collision",
            "upgrade",
            "valuation",
            "unknown",
        ] {
            assert!(!technician.can(Permission::for_event_kind(kind)), "{kind}");
        }
        assert!(!technician.can(Permission::RegisterVehicles));
        assert!(!technician.can(Permission::ConfigureMaintenance));
        assert!(!technician.can(Permission::ConfigureNotifications));
    }

    #[test]
    fn owner_records_any_event_and_configures_but_cannot_manage_dealers() {
        let owner = caller(&[Role::Owner]);
        assert!(owner.can(Permission::for_event_kind("collision")));
        assert!(owner.can(Permission::for_event_kind("maintenance")));
        assert!(owner.can(Permission::RegisterVehicles));
        assert!(owner.can(Permission::ConfigureMaintenance));
        assert!(owner.can(Permission::ConfigureNotifications));
        assert!(owner.require(Permission::ManageDealers).is_err());
    }

    #[test]
    fn viewer_may_only_read_and_chat() {
        let viewer = caller(&[Role::Viewer]);
        let allowed: Vec<_> = Permission::ALL
            .iter()
            .copied()
            .filter(|p| viewer.can(*p))
            .collect();
        assert_eq!(
            allowed,
            [
                Permission::ReadVehicles,
                Permission::ReadNotifications,
                Permission::ReadFleet,
                Permission::Chat
            ]
        );
    }

    #[test]
    fn several_roles_grant_the_union_of_their_permissions() {
        let both = caller(&[Role::Viewer, Role::Technician]);
        assert!(both.can(Permission::RecordServiceEvent));
        assert!(!both.can(Permission::RecordAnyEvent));
    }

    #[test]
    fn only_fleet_managers_correct_dealer_records() {
        for role in [Role::Owner, Role::Technician, Role::Viewer] {
            assert!(
                !caller(&[role]).can(Permission::CorrectDealerRecords),
                "{role}"
            );
        }
        assert!(caller(&[Role::Owner]).can(Permission::ManageVehicles));
        assert!(!caller(&[Role::Technician]).can(Permission::ManageVehicles));
    }

    #[test]
    fn missing_permission_is_a_403() {
        let err = caller(&[Role::Viewer])
            .require(Permission::RegisterVehicles)
            .unwrap_err();
        assert_eq!(err.http_status(), 403);
    }
}
